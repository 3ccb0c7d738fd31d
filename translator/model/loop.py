"""A step loop over time for decoders: the one place that uses tf.* directly.

`keras.ops.scan` on the TensorFlow backend requires each step's output to
have the carry's structure and re-stores the carry in TensorArrays every step;
a decoder outputs logits [batch, vocab] while carrying states, so this is a
plain `tf.while_loop` with one TensorArray per output instead.
"""

import tensorflow as tf


def scan_steps(step, carry, inputs: tuple, output_dtypes: tuple):
    """carry, outputs_t = step(carry, inputs_t) for t over axis 0 of each tensor in `inputs`.

    Returns the final carry and a tuple of the outputs stacked on axis 0.
    """
    steps = tf.shape(inputs[0])[0]
    unstacked = tuple(tf.TensorArray(x.dtype, size=steps).unstack(x) for x in inputs)
    outputs = tuple(tf.TensorArray(dtype, size=steps) for dtype in output_dtypes)

    def body(t, carry, outputs):
        carry, step_outputs = step(carry, tuple(x.read(t) for x in unstacked))
        return t + 1, carry, tuple(o.write(t, value) for o, value in zip(outputs, step_outputs))

    _, carry, outputs = tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(0), carry, outputs))
    return carry, tuple(o.stack() for o in outputs)
