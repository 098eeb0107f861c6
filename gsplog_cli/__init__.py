"""The `gsp` command line: one click group whose subcommands live in small modules."""
