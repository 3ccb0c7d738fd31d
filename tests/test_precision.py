"""--precision: layers compute in bfloat16 or float16 while variables, logits and the loss stay float32; `auto`
chooses bfloat16 only on a CPU with BF16 instructions where it measures faster."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from translator.model import precision
from translator.config import ModelConfig, TrainingConfig
from translator.training import TrainStep

BATCH = {
    "source": np.array([[1, 5, 6, 2], [1, 7, 2, 0]], "int32"),
    "target_in": np.array([[1, 8, 9], [1, 10, 0]], "int32"),
    "target_out": np.array([[8, 9, 2], [10, 2, 0]], "int32"),
    "source_mask": np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool),
    "target_mask": np.array([[1, 1, 1], [1, 1, 0]], bool),
}


def test_named_precisions_map_to_keras_policies():
    assert precision.resolve("float32") == "float32"
    assert precision.resolve("bfloat16") == "mixed_bfloat16"
    assert precision.resolve("mixed_float16") == "mixed_float16"


def test_auto_is_float32_without_bf16_instructions(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert precision.resolve("auto") == "float32"


def test_auto_is_bfloat16_only_where_it_measures_faster(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    monkeypatch.setattr(precision, "gpu_present", lambda: False)
    for faster, expected in ((True, "mixed_bfloat16"), (False, "float32")):
        monkeypatch.setattr(precision, "bfloat16_measures_faster", lambda: faster)
        assert precision.resolve("auto") == expected


def test_the_policy_is_restored_after_building():
    with precision.dtype_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("name, compute", [("bfloat16", "bfloat16"), ("mixed_float16", "float16")])
def test_a_reduced_precision_step_learns_in_float32_variables(name, compute):
    step = TrainStep(ModelConfig(units=16, embedding_dim=8, dropout=0.0),
                     TrainingConfig(precision=name, learning_rate=0.01, seed=3), 12, 12)
    assert keras.config.dtype_policy().name == "float32"  # building left the global policy alone
    assert step.model.decoder.compute_dtype == compute
    assert {v.dtype for v in step.model.trainable_variables} == {"float32"}
    assert step.model(BATCH).dtype == "float32"  # the logits, hence softmax and loss
    losses = [step.train(BATCH).loss for _ in range(30)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("decoder", ["feedback", "attention"])
@pytest.mark.parametrize("teacher_forcing", [0.0, 0.5])
def test_sampled_previous_tokens_train_under_bfloat16(decoder, teacher_forcing):
    """Scheduled sampling and free running under bfloat16: the decoder's call receives the probability cast to
    bfloat16 (Keras casts its float arguments), which failed against float32 coins."""
    step = TrainStep(ModelConfig(units=16, embedding_dim=8, dropout=0.0, decoder=decoder),
                     TrainingConfig(precision="bfloat16", teacher_forcing="scheduled", learning_rate=0.01, seed=3),
                     12, 12)
    losses = [step.train(BATCH, teacher_forcing).loss for _ in range(30)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.5 * losses[0]


def reads_inside_loops(function, *args) -> int:
    """How many variable reads the while-loop bodies of `function`'s graph hold."""
    library = function.get_concrete_function(*args).graph.as_graph_def().library.function
    return sum(node.op == "ReadVariableOp" for body in library if "while_body" in body.signature.name
               for node in body.node_def)


def bfloat16_model(decoder="attention"):
    from translator.model.seq2seq import Seq2Seq

    with precision.dtype_policy("mixed_bfloat16"):
        return Seq2Seq(12, 12, config={"units": 16, "embedding_dim": 8, "decoder": decoder}, seed=1
                       ).build_with_dummy_batch()


def test_cast_once_reads_no_variable_inside_the_loops_and_computes_the_same():
    model = bfloat16_model()
    inputs = {k: tf.constant(BATCH[k]) for k in ("source", "target_in")}

    def plain():
        return model(inputs)

    def cast_once():
        with precision.weights_cast_once(model):
            return model(inputs)

    plain, cast_once = tf.function(plain), tf.function(cast_once)
    assert reads_inside_loops(plain) > 0  # Keras' mixed policy: a read and a cast per variable per step
    assert reads_inside_loops(cast_once) == 0
    np.testing.assert_array_equal(plain().numpy(), cast_once().numpy())


def test_cast_once_keeps_gradients_and_random_state():
    model = bfloat16_model("feedback")
    inputs = {k: tf.constant(BATCH[k]) for k in ("source", "target_in")}
    seed = model.decoder.sampling_seed.state
    before = seed.numpy().copy()
    with tf.GradientTape() as tape, precision.weights_cast_once(model):
        loss = tf.reduce_sum(model(inputs, training=True, teacher_forcing=0.5))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None and np.isfinite(tf.norm(g)) for g in gradients)
    assert not np.array_equal(seed.numpy(), before)  # the coins drawn inside moved the seed on



def test_bfloat16_gradients_stay_near_float32_for_every_variable():
    """Where a gradient is a sum that cancels almost to zero (the attention's softmax summed back over the source,
    the logits' bias over every token), bfloat16 left noise many times its size (attention W: 30x, the output
    bias: 30 %): the energies, softmax, logits' bias and recurrent states are float32 so that no variable's
    gradient is more than a few percent off float32's."""
    from translator.model.seq2seq import Seq2Seq

    config, vocab = {"units": 64, "embedding_dim": 16, "decoder": "attention"}, 500
    rng = np.random.default_rng(0)
    inputs = {"source": rng.integers(3, vocab, (32, 15)).astype("int32"),
              "target_in": rng.integers(3, vocab, (32, 15)).astype("int32")}
    target = rng.integers(3, vocab, (32, 15)).astype("int32")
    plain = Seq2Seq(vocab, vocab, config=config, seed=1).build_with_dummy_batch()
    with precision.dtype_policy("mixed_bfloat16"):
        mixed = Seq2Seq(vocab, vocab, config=config, seed=1).build_with_dummy_batch()
    for mixed_variable, plain_variable in zip(mixed.weights, plain.weights):
        mixed_variable.assign(plain_variable)

    def gradients(model):
        with tf.GradientTape() as tape, precision.weights_cast_once(model):
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(target, model(inputs), from_logits=True))
        return [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]

    errors = {variable.path: float(tf.norm(tf.cast(m, tf.float32) - p) / tf.norm(p))
              for variable, p, m in zip(plain.trainable_variables, gradients(plain), gradients(mixed))}
    assert max(errors.values()) < 0.05, errors


class LoopWeight(keras.layers.Layer):
    """One [1, 1] kernel used once per step of a loop; listed (or not) for float32 gradient sums."""

    def __init__(self, float32_gradient: bool):
        super().__init__(dtype="mixed_bfloat16")
        self.kernel = self.add_weight(shape=(1, 1), initializer="ones", name="kernel")
        self.float32_gradient_weights = [self.kernel] if float32_gradient else []


def loop_gradient(layer, contributions):
    """d/dk of sum_t x_t k over a tf.while_loop, k read inside weights_cast_once: sum_t x_t."""
    steps = len(contributions)
    contributions = tf.constant(contributions, tf.bfloat16)

    @tf.function
    def gradient():
        with tf.GradientTape() as tape, precision.weights_cast_once(layer):
            def body(t, total):
                kernel = precision.matmul_operand(layer.kernel, "bfloat16")
                return t + 1, total + tf.cast(tf.matmul(tf.reshape(contributions[t], (1, 1)), kernel)[0, 0], tf.float32)

            _, total = tf.while_loop(lambda t, _: t < steps, body, (tf.constant(0), tf.constant(0.0)))
        return tape.gradient(total, layer.kernel)

    return float(gradient()[0, 0])


def test_a_loop_sums_the_gradient_of_a_cast_once_weight_in_float32():
    """255 x 1 + 256: bfloat16 (8 bits of mantissa) holds no odd number above 256, so a bfloat16 sum is off."""
    contributions = [1.0] * 255 + [256.0]
    assert loop_gradient(LoopWeight(float32_gradient=True), contributions) == 511.0
    assert loop_gradient(LoopWeight(float32_gradient=False), contributions) != 511.0  # the loss it avoids
