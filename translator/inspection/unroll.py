"""The model run one step at a time, with a probe on every recurrent state.

Keras' recurrent layers run a whole sequence inside one op and expose only
its outputs, so the gradient with respect to an earlier *state* (through every
later step, as back-propagation through time computes it) is not reachable
there. Here each cell is stepped in a loop, and a probe (a zero tensor) is
added to the state after every step: the gradient of a loss with respect to
probe t is the gradient with respect to the state at step t. The steps are
the cells' own (`cell(x, state)`), so the outputs are the model's, and the
gates can be recorded on the way.

Time-major tensors throughout: [steps, batch, ...].
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf
from keras import ops

from translator.model.cells import gate_activations, gate_names


def directions(layer) -> list[tuple[keras.layers.Layer, bool]]:
    """(cell, runs backwards) for each direction of a recurrent layer, as Keras orders its states."""
    if isinstance(layer, keras.layers.Bidirectional):
        return [(layer.forward_layer.cell, False), (layer.backward_layer.cell, True)]
    return [(layer.cell, False)]


def state_width(cell) -> int:
    """Width of a probe: the cell's state tensors side by side ([h] or [h, c])."""
    return int(sum(_sizes(cell)))


def probed(state: list, probe) -> list:
    """The state with the probe [batch, state_width] added, split across its tensors."""
    if probe is None:
        return state
    widths = [int(s.shape[-1]) for s in state]
    return [s + p for s, p in zip(state, tf.split(probe, widths, axis=-1))]


def run_cell(cell, inputs, mask, probe=None, backwards: bool = False, record_gates: bool = False):
    """Step `cell` over inputs [T, batch, features] where mask [T, batch] is True, from a zero state.

    Padded steps keep the state (as Keras' masked layers do); a backwards
    direction reads the sequence from its end. Returns (outputs [T, batch,
    units] in position order, final state list, {gate: [T, batch, units]}).
    probe [T, batch, state_width] is added to the state after step t (position order).
    """
    if backwards:
        inputs, mask = inputs[::-1], mask[::-1]
        probe = None if probe is None else probe[::-1]
    batch = tf.shape(inputs)[1]
    state = [ops.zeros((batch, size), inputs.dtype) for size in _sizes(cell)]
    names = gate_names(cell) if record_gates else ()
    steps = tf.shape(inputs)[0]

    def body(t, state, outputs, gates):
        x, keep = inputs[t], mask[t][:, None]
        recorded = gate_activations(cell, x, state) if names else {}
        _, new_state = cell(x, state)
        new_state = [tf.where(keep, new, old) for new, old in zip(_as_list(new_state), state)]
        new_state = probed(new_state, None if probe is None else probe[t])
        gates = tuple(g.write(t, recorded[name]) for g, name in zip(gates, names))
        return t + 1, new_state, outputs.write(t, new_state[0]), gates

    outputs = tf.TensorArray(inputs.dtype, size=steps)
    gates = tuple(tf.TensorArray(inputs.dtype, size=steps) for _ in names)
    _, state, outputs, gates = tf.while_loop(lambda t, *_: t < steps, body, (0, state, outputs, gates))
    outputs, gates = outputs.stack(), {name: g.stack() for name, g in zip(names, gates)}
    if backwards:
        outputs, gates = outputs[::-1], {name: g[::-1] for name, g in gates.items()}
    return outputs, state, gates


def run_encoder(encoder, source, probes=None, record_gates: bool = False):
    """The encoder's outputs (the dict `Encoder.call` returns) computed step by step, and the gates by
    layer name ({"encoder 1 forward": {gate: [T, batch, units]}, ...}).

    probes: one [S, batch, state_width] per direction of the top layer, or None.
    """
    mask = ops.not_equal(source, 0)
    steps_mask = ops.transpose(mask)
    x = ops.transpose(encoder.embedding(source), (1, 0, 2))
    gates, top = {}, len(encoder.recurrent) - 1
    for index, layer in enumerate(encoder.recurrent):
        outputs, states = [], []
        for direction, (cell, backwards) in enumerate(directions(layer)):
            probe = probes[direction] if probes is not None and index == top else None
            output, state, layer_gates = run_cell(cell, x, steps_mask, probe, backwards, record_gates)
            outputs.append(output)
            states += state
            if layer_gates:
                name = f"encoder {index + 1}" + ((" backward" if backwards else " forward")
                                                 if encoder.bidirectional else "")
                gates[name] = layer_gates
        x = encoder.joined(outputs)
    return encoder.encoded(ops.transpose(x, (1, 0, 2)), mask, states), gates


class DecoderRun(NamedTuple):
    outputs: tf.Tensor  # s_t [T, batch, units]
    contexts: tf.Tensor | None  # c_t [T, batch, width], where the decoder attends
    weights: tf.Tensor | None  # alpha_t [T, batch, src_len], where the decoder attends
    gates: dict  # {gate: [T, batch, units]}

    def predictions(self, decoder, target_in, prepared):
        """What the model's own teacher-forced pass outputs (logits, or a copying decoder's log P) [batch, T, vocab]."""
        def batch_major(t):
            return None if t is None else tf.transpose(t, (1, 0, 2))

        return decoder.predict(batch_major(self.outputs), batch_major(self.contexts), batch_major(self.weights),
                               decoder.recurrent_input(target_in, prepared), prepared)


def run_decoder(decoder, target_in, prepared, probe=None, record_gates: bool = False) -> DecoderRun:
    """The decoder teacher-forced along target_in [batch, T], step by step. probe: [T, batch, state_width] or
    None."""
    inputs = ops.transpose(decoder.recurrent_input(target_in, prepared), (1, 0, 2))
    cell = decoder.rnn.cell
    names = gate_names(cell) if record_gates else ()
    steps = tf.shape(inputs)[0]
    attends = decoder.attends

    def body(t, state, outputs, contexts, weights, gates):
        x, context, step_weights = decoder.cell_input(inputs[t], state, prepared)
        recorded = gate_activations(cell, x, state) if names else {}
        _, new_state = cell(x, state)
        new_state = probed(_as_list(new_state), None if probe is None else probe[t])
        gates = tuple(g.write(t, recorded[name]) for g, name in zip(gates, names))
        if attends:
            contexts, weights = contexts.write(t, context), weights.write(t, step_weights)
        return t + 1, new_state, outputs.write(t, new_state[0]), contexts, weights, gates

    arrays = (*(tf.TensorArray(inputs.dtype, size=steps) for _ in range(3)),
              tuple(tf.TensorArray(inputs.dtype, size=steps) for _ in names))
    _, _, outputs, contexts, weights, gates = tf.while_loop(lambda t, *_: t < steps, body,
                                                            (0, decoder.initial_state(prepared), *arrays))
    return DecoderRun(outputs.stack(), contexts.stack() if attends else None, weights.stack() if attends else None,
                      {n: g.stack() for n, g in zip(names, gates)})


def _sizes(cell) -> list[int]:
    return list(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]


def _as_list(state) -> list:
    return list(state) if isinstance(state, (list, tuple)) else [state]
