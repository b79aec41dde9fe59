"""The editable part of the digits example: a one-hidden-layer MLP in plain NumPy.

Anything in this file may change: the hyperparameters below, the model, the optimiser.
prepare.py (data, split, time budget, evaluation) is fixed. Training makes EPOCHS passes
over the training set, or stops earlier when it has used TIME_BUDGET seconds of CPU time (not
wall time: a machine busy with other work trains the same model, only later); the step size
follows a cosine curve down to zero over whichever of the two ends first. Then the script
prints val_loss (the metric), val_accuracy, train_loss, steps and seconds.
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # one BLAS thread: steadier timing on small machines

import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from prepare import NUM_CLASSES, TIME_BUDGET, cross_entropy, evaluate, load_train  # noqa: E402

# Optimisation
LEARNING_RATE = 0.005  # peak step size of SGD with momentum
MOMENTUM = 0.9  # fraction of the previous update carried into the next
BATCH_SIZE = 64  # examples per step
EPOCHS = 20  # passes over the training set (TIME_BUDGET may stop training earlier)

# Model
HIDDEN_SIZE = 32  # units in the hidden layer
ACTIVATION = "tanh"  # "tanh" or "relu"
INIT_SCALE = 1.0  # multiplier on the fan-in scaled initial weights

# Regularisation
WEIGHT_DECAY = 0.0001  # L2 penalty on the weights (not the biases)
LABEL_SMOOTHING = 0.1  # share of the target spread evenly over all classes

# Reproducibility
SEED = 0  # seeds the initial weights and the batch order


Params = dict[str, np.ndarray]


def init_params(rng: np.random.Generator, inputs: int) -> Params:
    """Gaussian weights scaled by fan-in (with ReLU's extra factor of 2), zero biases."""
    gain = math.sqrt(2.0) if ACTIVATION == "relu" else 1.0
    return {
        "w1": rng.normal(0.0, INIT_SCALE * gain / math.sqrt(inputs), (inputs, HIDDEN_SIZE)),
        "b1": np.zeros(HIDDEN_SIZE),
        "w2": rng.normal(0.0, INIT_SCALE / math.sqrt(HIDDEN_SIZE), (HIDDEN_SIZE, NUM_CLASSES)),
        "b2": np.zeros(NUM_CLASSES),
    }


def activate(pre: np.ndarray) -> np.ndarray:
    """The hidden layer's non-linearity."""
    return np.maximum(pre, 0.0) if ACTIVATION == "relu" else np.tanh(pre)


def activation_grad(hidden: np.ndarray) -> np.ndarray:
    """Derivative of the non-linearity, written in terms of its output."""
    return (hidden > 0.0).astype(hidden.dtype) if ACTIVATION == "relu" else 1.0 - hidden**2


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so it cannot overflow."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def forward(params: Params, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hidden activations and class probabilities for a batch."""
    hidden = activate(x @ params["w1"] + params["b1"])
    return hidden, softmax(hidden @ params["w2"] + params["b2"])


def gradients(params: Params, x: np.ndarray, y: np.ndarray) -> tuple[Params, float]:
    """Gradients of the smoothed cross-entropy plus weight decay, and the batch loss."""
    hidden, probs = forward(params, x)
    target = np.full_like(probs, LABEL_SMOOTHING / NUM_CLASSES)
    target[np.arange(len(y)), y] += 1.0 - LABEL_SMOOTHING
    loss = float(-(target * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1).mean())
    d_logits = (probs - target) / len(y)
    d_hidden = (d_logits @ params["w2"].T) * activation_grad(hidden)
    grads = {
        "w2": hidden.T @ d_logits + WEIGHT_DECAY * params["w2"],
        "b2": d_logits.sum(axis=0),
        "w1": x.T @ d_hidden + WEIGHT_DECAY * params["w1"],
        "b1": d_hidden.sum(axis=0),
    }
    return grads, loss


def train(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[Params, int]:
    """SGD with momentum until EPOCHS are done or TIME_BUDGET runs out; returns steps."""
    params = init_params(rng, x.shape[1])
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    steps_per_epoch = math.ceil(len(x) / BATCH_SIZE)
    total_steps = EPOCHS * steps_per_epoch
    start = time.process_time()
    step = 0
    while True:
        order = rng.permutation(len(x))
        for first in range(0, len(x), BATCH_SIZE):
            # Progress is whichever budget is further along: epochs or seconds.
            progress = max(step / total_steps, (time.process_time() - start) / TIME_BUDGET)
            if progress >= 1.0:
                return params, step
            rate = LEARNING_RATE * 0.5 * (1.0 + math.cos(math.pi * progress))
            batch = order[first : first + BATCH_SIZE]
            grads, loss = gradients(params, x[batch], y[batch])
            if not math.isfinite(loss):
                sys.exit(f"training diverged at step {step} (loss {loss})")
            for name, grad in grads.items():
                velocity[name] = MOMENTUM * velocity[name] - rate * grad
                params[name] += velocity[name]
            step += 1


def main() -> None:
    """Train, evaluate on the validation set and print the result lines."""
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    x_train, y_train = load_train()
    params, steps = train(x_train, y_train, rng)
    seconds = time.perf_counter() - start
    scores = evaluate(lambda images: forward(params, images)[1])
    train_loss = cross_entropy(forward(params, x_train)[1], y_train)
    print(f"val_loss: {scores['val_loss']:.6f}")
    print(f"val_accuracy: {scores['val_accuracy']:.4f}")
    print(f"train_loss: {train_loss:.4f}")
    print(f"steps: {steps}")
    print(f"seconds: {seconds:.2f}")


if __name__ == "__main__":
    main()
