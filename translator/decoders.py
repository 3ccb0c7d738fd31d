"""The four decoders, one class each, in a registry by command-line name.

Every decoder answers three questions the same way, so that training and
search never ask which decoder they hold:

* `prepare(encoded)`: per-sentence constants computed once (the context's
  share of the output logits, attention keys) -> a dict of tensors;
* `initial_state(prepared)`: the state before the first step (a list of tensors);
* `step(tokens, state, prepared)`: one step -> (logits [batch, vocab], new state,
  attention weights [batch, src_len] or None).

The base class owns the unroll over a whole target sequence: teacher-forced
through a whole-sequence recurrent layer where every input is known in
advance, or step by step (`keras.ops.scan`) where the previous prediction may
be fed back (free running, scheduled sampling) or attention needs the state.
"""

from __future__ import annotations

import keras
from keras import ops

from translator.attention import AdditiveAttention
from translator.bridge import Bridge
from translator.cells import recurrent_layer
from translator.errors import OptionError
from translator.loop import scan_steps

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
        raise OptionError(f"unknown decoder '{name}'; choose one of {', '.join(DECODERS)}")
    return DECODERS[name]


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
        self.from_state = keras.layers.Dense(width, name="W_h" if readout else "V_h")
        self.from_context = keras.layers.Dense(width, use_bias=False, name="W_c" if readout else "V_c")
        self.to_vocabulary = keras.layers.Dense(vocab_size, name="V") if readout else None

    def call(self, state, context_share):
        """state [..., units] + context_share (from `context_share`) broadcastable -> logits."""
        hidden = self.from_state(state) + context_share
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

    def __init__(self, vocab_size, embedding_dim, units, cell="gru", context_width=None, seed=None, readout=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.embedding_dim, self.units, self.cell = vocab_size, embedding_dim, units, cell
        self.readout = readout
        self.context_width = context_width or units
        self.seed = seed
        self.rnn = recurrent_layer(cell, units, name=cell)
        self.output_layer = OutputLayer(vocab_size, readout, name="output")
        self.bridge = Bridge(units, self.context_width, lstm=cell == "lstm", name="bridge")
        self.sampling_seed = keras.random.SeedGenerator(seed, name="sampling_seed")

    def build(self, *args, **kwargs):
        self.built = True  # sublayers build on first use

    # --- the contract --------------------------------------------------------------
    def prepare(self, encoded):
        return {**encoded, "context_logits": self.output_layer.context_share(encoded["context"])}

    def initial_state(self, prepared):
        return self.bridge(prepared["context"], prepared.get("cell_state"))

    def step(self, tokens, state, prepared, training=False):
        output, new_state = self.rnn.cell(self.step_input(tokens, prepared), state, training=training)
        return self.output_layer(output, prepared["context_logits"]), list(new_state), None

    def step_input(self, tokens, prepared):
        """The recurrent input x'_t at one step (tokens [batch] are y'_{t-1})."""
        raise NotImplementedError

    def sequence_input(self, target_in, prepared):
        """x'_1..x'_T [batch, T, features] when all are known in advance (teacher forcing)."""
        raise NotImplementedError

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
        """The fast path: one whole-sequence recurrent layer over inputs known in advance."""
        inputs = self.sequence_input(target_in, prepared)
        outputs, *_ = self.rnn(inputs, initial_state=self.initial_state(prepared), training=training)
        return self.output_layer(outputs, ops.expand_dims(prepared["context_logits"], 1))

    def unroll(self, target_in, prepared, teacher_forcing, training, return_attention=False):
        """Step by step; each step's input token is the true one or the previous prediction."""
        true_tokens = ops.transpose(target_in)  # [T, batch]
        if teacher_forcing is None:
            use_true = ops.ones_like(true_tokens, dtype="bool")
        else:
            coins = keras.random.uniform(ops.shape(true_tokens), seed=self.sampling_seed)
            use_true = ops.logical_or(coins < teacher_forcing, ops.arange(ops.shape(true_tokens)[0])[:, None] == 0)

        def one_step(carry, inputs):
            state, previous_prediction = carry
            true_token, take_true = inputs
            tokens = ops.where(take_true, true_token, previous_prediction)
            logits, state, weights = self.step(tokens, state, prepared, training)
            prediction = ops.cast(ops.argmax(logits, axis=-1), true_token.dtype)
            return (state, prediction), ((logits, weights) if return_attention else (logits,))

        start = (self.initial_state(prepared), true_tokens[0])
        dtypes = (self.compute_dtype,) * (2 if return_attention else 1)
        _, outputs = scan_steps(one_step, start, (true_tokens, use_true), dtypes)
        outputs = tuple(ops.transpose(o, (1, 0, 2)) for o in outputs)  # [batch, T, ...]
        return outputs if return_attention else outputs[0]

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

    def step_input(self, tokens, prepared):
        return ops.zeros((ops.shape(tokens)[0], 1))

    def sequence_input(self, target_in, prepared):
        return ops.zeros((ops.shape(target_in)[0], ops.shape(target_in)[1], 1))


@register("context")
class ContextDecoder(Decoder):
    """Decoder-2: a learned h'_0; c is the input at every step: h'_t = f(U c + W h'_{t-1} + b)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bridge = None  # starts from its own learned state, not the encoder's

    def build(self, *args, **kwargs):
        shape = (self.units,)
        self.learned_state = [self.add_weight(shape=shape, initializer="zeros", name="h0")]
        if self.cell == "lstm":
            self.learned_state.append(self.add_weight(shape=shape, initializer="zeros", name="c0"))
        super().build()

    def initial_state(self, prepared):
        batch = ops.shape(prepared["context"])[0]
        return [ops.broadcast_to(s, (batch, self.units)) for s in self.learned_state]

    def step_input(self, tokens, prepared):
        return prepared["context"]

    def sequence_input(self, target_in, prepared):
        steps = ops.shape(target_in)[1]
        return ops.repeat(ops.expand_dims(prepared["context"], 1), steps, axis=1)


class TokenFedDecoder(Decoder):
    """A decoder whose step input includes the embedding of the previous token y'_{t-1}."""

    uses_previous_token = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.embedding = keras.layers.Embedding(self.vocab_size, self.embedding_dim, name="embedding")


@register("feedback")
class FeedbackDecoder(TokenFedDecoder):
    """Decoder-3: h'_t = f(U c + W h'_{t-1} + V y'_{t-1} + b), the input being [emb(y'_{t-1}); c]."""

    def step_input(self, tokens, prepared):
        return ops.concatenate([self.embedding(tokens), prepared["context"]], axis=-1)

    def sequence_input(self, target_in, prepared):
        embedded = self.embedding(target_in)
        context = ops.repeat(ops.expand_dims(prepared["context"], 1), ops.shape(target_in)[1], axis=1)
        return ops.concatenate([embedded, context], axis=-1)


@register("attention")
class AttentionDecoder(TokenFedDecoder):
    """Bahdanau: c_t from additive attention over h_1..h_N with query s_{t-1};
    input [emb(y'_{t-1}); c_t]; output layer over [s_t; c_t]."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.attention = AdditiveAttention(self.units, name="attention")

    def prepare(self, encoded):
        return {**encoded, "keys": self.attention.keys(encoded["memory"])}

    def attend_and_recur(self, embedded, state, prepared, training=False):
        """One step up to the new state: (s_t [batch, units], c_t [batch, width], new state, alpha_t)."""
        context, weights = self.attention(state[0], prepared["keys"], prepared["memory"], prepared["mask"])
        output, new_state = self.rnn.cell(ops.concatenate([embedded, context], axis=-1), state, training=training)
        return output, context, list(new_state), weights

    def step(self, tokens, state, prepared, training=False):
        output, context, state, weights = self.attend_and_recur(self.embedding(tokens), state, prepared, training)
        return self.output_layer(output, self.output_layer.context_share(context)), state, weights

    def teacher_forced(self, target_in, prepared, training):
        """The loop carries only the state; the output layer, the costliest matmul by far
        (its input x vocab), then runs once over all steps instead of once per step."""

        def one_step(state, inputs):
            output, context, state, _ = self.attend_and_recur(inputs[0], state, prepared, training)
            return state, (output, context)

        embedded = ops.transpose(self.embedding(target_in), (1, 0, 2))  # [T, batch, embedding]
        dtypes = (self.compute_dtype, self.compute_dtype)
        _, (outputs, contexts) = scan_steps(one_step, self.initial_state(prepared), (embedded,), dtypes)
        outputs, contexts = ops.transpose(outputs, (1, 0, 2)), ops.transpose(contexts, (1, 0, 2))
        return self.output_layer(outputs, self.output_layer.context_share(contexts))

    def attention_weights(self, target_in, encoded):
        """alpha for every step, teacher-forced: [batch, T, src_len]."""
        return self.unroll(target_in, self.prepare(encoded), None, False, return_attention=True)[1]
