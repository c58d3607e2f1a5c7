"""The training runtime: worker step, hooks, local cluster and estimator."""
