"""The commands that are not Trainer methods: `summary`, `bench`, `export`, `sweep`."""
