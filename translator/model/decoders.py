"""The four decoders, one class each, in a registry by command-line name.

A decoder is defined by two choices, and the base class owns everything else
(the step, the teacher-forced pass, the unroll with sampled inputs):

* `recurrent_input(tokens, prepared)`: x'_t, the recurrent input that does not
  depend on the state, for one step (tokens [batch]) or a whole sequence
  (tokens [batch, T]) alike;
* `bridge_class`: how the initial state is made (from the encoder's context,
  or learned).

`AttentionDecoder` adds a context c_t that depends on the state
(`attends = True`): its steps then run in a loop carrying the state, while the
others run one whole-sequence recurrent layer under teacher forcing.

For search, every decoder offers `prepare(encoded)` (per-sentence constants,
computed once), `initial_state(prepared)` and `step(tokens, state, prepared)`
-> (logits [batch, vocab], new state, attention weights [batch, src_len] or None); with `copy`
the "logits" are log-probabilities, which every consumer may treat as logits.
"""

from __future__ import annotations

import keras
from keras import ops

from translator.model.attention import AdditiveAttention
from translator.model.bridge import Bridge, LearnedState
from translator.model.cells import recurrent_layer
from translator.model.copying import PointerGenerator
from translator.errors import OptionError
from translator.model.float32_state import Float32OutputDense
from translator.model.loop import scan_steps

DECODERS: dict[str, type["Decoder"]] = {}


def register(name: str):
    """Class decorator: make a decoder available as `--decoder name`; names are unique."""

    def add(cls):
        if name in DECODERS:
            raise ValueError(f"decoder '{name}' is registered twice")
        cls.name_in_registry = name
        DECODERS[name] = cls
        return cls

    return add


def decoder_class(name: str) -> type["Decoder"]:
    if name not in DECODERS:
        raise OptionError(f"`decoder`: unknown '{name}'; choose one of {', '.join(DECODERS)}")
    return DECODERS[name]


def along(tokens, per_sentence):
    """A per-sentence tensor [batch, width] repeated along the token positions of `tokens` ([batch] or [batch, T])."""
    if len(tokens.shape) == 1:
        return per_sentence
    return ops.repeat(ops.expand_dims(per_sentence, 1), ops.shape(tokens)[1], axis=1)


class OutputLayer(keras.layers.Layer):
    """y'_t = g(V [h'_t; c]), computed as V_h h'_t + V_c c + b so that a constant c is projected once.

    With `readout` r > 0 it is a deep output instead: y'_t = V tanh(W_h h'_t + W_c c + b)
    (Bahdanau et al. read out through a 500-unit maxout layer, Luong et al.
    through tanh). The vocabulary-wide matmul, the costliest of a step, then
    reads r features instead of units + context width.
    """

    def __init__(self, vocab_size: int, readout: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.readout = vocab_size, readout
        width = readout or vocab_size
        self.from_state = keras.layers.Dense(width, name="W_h") if readout else Float32OutputDense(width, name="V_h")
        self.from_context = keras.layers.Dense(width, use_bias=False, name="W_c" if readout else "V_c")
        self.to_vocabulary = Float32OutputDense(vocab_size, name="V") if readout else None

    def call(self, state, context_share):
        """state [..., units] + context_share (from `context_share`) broadcastable -> logits."""
        hidden = ops.add(self.from_state(state), context_share)  # float32 logits + a bfloat16 share: promoted
        return self.to_vocabulary(ops.tanh(hidden)) if self.readout else hidden

    def context_share(self, context):
        """The context's term, computed once per sentence where c is constant."""
        return self.from_context(context)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "readout": self.readout}


class Decoder(keras.layers.Layer):
    """Base class; see the module docstring for the contract."""

    name_in_registry = ""
    uses_previous_token = False  # only such decoders are affected by teacher forcing
    attends = False  # whether the step's context depends on the state (then no whole-sequence layer)
    bridge_class = Bridge

    def __init__(self, vocab_size, embedding_dim, units, cell="gru", context_width=None, seed=None, readout=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim, self.units, self.cell = vocab_size, embedding_dim, units, cell
        self.readout = readout
        self.context_width = context_width or units
        self.seed = seed
        self.rnn = recurrent_layer(cell, units, name=cell)
        self.output_layer = OutputLayer(vocab_size, readout, name="output")
        self.bridge = self.bridge_class(units, self.context_width, lstm=cell == "lstm", name="bridge")
        self.sampling_seed = keras.random.SeedGenerator(seed, name="sampling_seed")

    def build(self, *args, **kwargs):
        self.built = True  # sublayers build on first use

    # --- the two choices of a variant ------------------------------------------------------
    def recurrent_input(self, tokens, prepared):
        """x' for tokens [batch] (one step) or [batch, T] (a sequence): [..., features]."""
        raise NotImplementedError

    def attend(self, state, prepared):
        """(c_t, alpha_t) for a decoder whose context follows the state; the others use the constant c."""
        return None, None

    # --- what search uses -----------------------------------------------------------------
    def prepare(self, encoded):
        return {**encoded, "context_logits": self.output_layer.context_share(encoded["context"])}

    def initial_state(self, prepared):
        """The start state, in the dtype the cell carries (float32 under bfloat16: float32_state.py)."""
        return [ops.cast(s, self.state_dtype) for s in self.bridge(prepared["context"], prepared.get("cell_state"))]

    @property
    def state_dtype(self):
        return self.rnn.cell.compute_dtype

    def step(self, tokens, state, prepared, training=False):
        inputs = self.recurrent_input(tokens, prepared)
        output, context, new_state, weights = self.recur(inputs, state, prepared, training)
        return self.predict(output, context, weights, inputs, prepared), new_state, weights

    # --- the pieces of a step ---------------------------------------------------------------
    def recur(self, inputs, state, prepared, training=False):
        """One recurrent step from x'_t -> (s_t, c_t or None, new state, alpha_t or None)."""
        inputs, context, weights = self.cell_input(inputs, state, prepared)
        output, new_state = self.rnn.cell(inputs, state, training=training)
        return output, context, list(new_state), weights

    def cell_input(self, inputs, state, prepared):
        """x'_t -> (what the cell is fed: x'_t, with c_t appended where the decoder attends; c_t; alpha_t)."""
        context, weights = self.attend(state, prepared)
        if context is not None:
            inputs = ops.concatenate([inputs, context], axis=-1)
        return inputs, context, weights

    def predict(self, outputs, contexts, weights, inputs, prepared):
        """What the loss and the search read, for a step or a sequence: the logits y' (a copying decoder: log P)."""
        return self.logits(outputs, contexts, prepared)

    def logits(self, outputs, contexts, prepared):
        """y' from the states (and the step contexts c_t where the decoder attends), for a step or a sequence."""
        if contexts is not None:
            return self.output_layer(outputs, self.output_layer.context_share(contexts))
        share = prepared["context_logits"]
        return self.output_layer(outputs, share if len(outputs.shape) == 2 else ops.expand_dims(share, 1))

    # --- unrolling over a target sequence ----------------------------------------------
    def call(self, target_in, encoded, teacher_forcing=None, training=False):
        """Logits [batch, T, vocab] for decoder inputs target_in [batch, T] (START y_1 .. y_{T-1}).

        teacher_forcing: None feeds the true previous token at every step;
        a probability p feeds it with probability p and the model's own
        previous prediction (argmax) otherwise (0 = free running).
        """
        prepared = self.prepare(encoded)
        if teacher_forcing is None or not self.uses_previous_token:
            return self.teacher_forced(target_in, prepared, training)
        return self.unroll(target_in, prepared, teacher_forcing, training)

    def teacher_forced(self, target_in, prepared, training):
        """Every input known in advance: one whole-sequence recurrent layer, or, where the decoder attends, a loop
        that carries only the state; either way the output layer, the costliest matmul by far (its input x
        vocab), runs once over all steps instead of once per step."""
        inputs = self.recurrent_input(target_in, prepared)
        if not self.attends:
            outputs, *_ = self.rnn(inputs, initial_state=self.initial_state(prepared), training=training)
            return self.logits(outputs, None, prepared)
        return self.predict(*self.attended_steps(inputs, prepared, training), inputs, prepared)

    def attended_steps(self, inputs, prepared, training=False):
        """(states s_t, contexts c_t, attention weights alpha_t), each [batch, T, ...], of a decoder that attends,
        fed the recurrent inputs [batch, T, ...]."""

        def one_step(state, step_inputs):
            output, context, state, weights = self.recur(step_inputs[0], state, prepared, training)
            return state, (output, context, weights)

        dtypes = (self.state_dtype, self.compute_dtype, "float32")  # the attention weights are float32
        _, per_step = scan_steps(one_step, self.initial_state(prepared), (ops.transpose(inputs, (1, 0, 2)),), dtypes)
        return tuple(ops.transpose(t, (1, 0, 2)) for t in per_step)

    def unroll(self, target_in, prepared, teacher_forcing, training):
        """Step by step; each step's input token is the true one or the previous prediction."""
        true_tokens = ops.transpose(target_in)  # [T, batch]
        if teacher_forcing is None:  # every true token, but step by step (what the whole-sequence pass must equal)
            use_true = ops.ones_like(true_tokens, dtype="bool")
        else:
            coins = keras.random.uniform(ops.shape(true_tokens), seed=self.sampling_seed)
            # a layer under bfloat16 casts every float argument of its call, this probability too
            probability = ops.cast(teacher_forcing, coins.dtype)
            use_true = ops.logical_or(coins < probability, ops.arange(ops.shape(true_tokens)[0])[:, None] == 0)

        def one_step(carry, inputs):
            state, previous_prediction = carry
            true_token, take_true = inputs
            tokens = ops.where(take_true, true_token, previous_prediction)
            logits, state, _ = self.step(tokens, state, prepared, training)
            prediction = ops.cast(ops.argmax(logits, axis=-1), true_token.dtype)
            return (state, prediction), (logits,)

        start = (self.initial_state(prepared), true_tokens[0])
        _, (logits,) = scan_steps(one_step, start, (true_tokens, use_true), ("float32",))
        return ops.transpose(logits, (1, 0, 2))  # [batch, T, vocab]

    def attention_weights(self, target_in, prepared):
        """alpha [batch, T, src_len] along given decoder inputs: the weights the steps computed when they produced
        these tokens (a search's own output, fed back teacher-forced). Only for a decoder that attends."""

        def one_step(state, inputs):
            _, _, state, weights = self.recur(self.recurrent_input(inputs[0], prepared), state, prepared)
            return state, (weights,)

        _, (weights,) = scan_steps(one_step, self.initial_state(prepared), (ops.transpose(target_in),), ("float32",))
        return ops.transpose(weights, (1, 0, 2))

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "units": self.units,
            "cell": self.cell, "context_width": self.context_width, "seed": self.seed, "readout": self.readout,
        }


@register("init")
class InitDecoder(Decoder):
    """Decoder-1: c is the initial state and the only input: h'_0 = c, h'_t = f(W h'_{t-1} + b).

    The recurrent layer is fed a constant zero (one feature wide: oneDNN
    aborts on zero-width matmuls), so U x = 0 and f sees nothing but its
    previous state; y'_t = g(V [h'_t; c]).
    """

    def recurrent_input(self, tokens, prepared):
        return ops.zeros((*ops.shape(tokens), 1))


@register("context")
class ContextDecoder(Decoder):
    """Decoder-2: a learned h'_0; c is the input at every step: h'_t = f(U c + W h'_{t-1} + b)."""

    bridge_class = LearnedState

    def recurrent_input(self, tokens, prepared):
        return along(tokens, prepared["context"])


class TokenFedDecoder(Decoder):
    """A decoder whose step input includes the embedding of the previous token y'_{t-1}."""

    uses_previous_token = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, name="embedding")


@register("feedback")
class FeedbackDecoder(TokenFedDecoder):
    """Decoder-3: h'_t = f(U c + W h'_{t-1} + V y'_{t-1} + b), the input being [emb(y'_{t-1}); c]."""

    def recurrent_input(self, tokens, prepared):
        return ops.concatenate([self.embedding(tokens), along(tokens, prepared["context"])], axis=-1)


@register("attention")
class AttentionDecoder(TokenFedDecoder):
    """Bahdanau: c_t from additive attention over h_1..h_N with query s_{t-1};
    input [emb(y'_{t-1}); c_t]; output layer over [s_t; c_t]. With `copy`, a pointer-generator
    (copying.py) mixes the output layer's distribution with the attention weights over the source tokens."""

    attends = True

    def __init__(self, *args, copy=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.copy = copy
        self.attention = AdditiveAttention(self.units, name="attention")
        self.pointer = PointerGenerator(name="pointer") if copy else None

    def predict(self, outputs, contexts, weights, inputs, prepared):
        logits = self.logits(outputs, contexts, prepared)
        if not self.copy:
            return logits
        return self.pointer(logits, outputs, contexts, inputs, weights, prepared["source_ids"])

    def target_log_probabilities(self, target_in, target_out, encoded, training=False):
        """log P(y_t) [batch, T] of the true next tokens target_out, teacher-forced, for a copying decoder: what
        its loss reads, without the [batch, T, vocab] mixture (PointerGenerator.target_log_probability)."""
        prepared = self.prepare(encoded)
        inputs = self.recurrent_input(target_in, prepared)
        outputs, contexts, weights = self.attended_steps(inputs, prepared, training)
        return self.pointer.target_log_probability(self.logits(outputs, contexts, prepared), outputs, contexts,
                                                   inputs, weights, prepared["source_ids"], target_out)

    def get_config(self):
        return {**super().get_config(), "copy": self.copy}

    def prepare(self, encoded):
        return {**encoded, "keys": self.attention.keys(encoded["memory"])}

    def recurrent_input(self, tokens, prepared):
        return self.embedding(tokens)

    def attend(self, state, prepared):
        return self.attention(state[0], prepared["keys"], prepared["memory"], prepared["mask"])
