"""What every task shares and nothing task-specific: the task base, the data module base, loaders,
file checks, image I/O, one atomic write."""
