"""`inspect`: what RNN theory predicts, measured on a trained model.

- `unroll`: the encoder and decoder run one step at a time, with a probe on every state and the gates recorded;
- `gradients`: the gradient of the last target step's loss with respect to each earlier state, by distance;
- `gates`: the distribution of LSTM and GRU gate activations;
- `alignment`: attention entropy and coverage of the source;
- `sample`: the real sentences all three are measured on.
"""
