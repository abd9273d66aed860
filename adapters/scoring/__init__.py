"""How a trained model scores: the one kernel, shared by training, ranking and serving."""
