"""Local W&B sweeps on Optuna: the sweep file (`spec`), one run (`runs`), the study and its results
(`study`), and the command (`cli`)."""
