"""Training: `zoo fit|validate|test`, the run directory, loggers, callbacks, reports and SLURM.

`cli.py` holds the LightningCLI class (`ZooCLI`) and the commands; the other modules are what a
run is made of. Import from the modules themselves (`from zoo.training.slurm import
SlurmRequeue`): this package imports nothing on its own, so `zoo --help` stays instant.
"""
