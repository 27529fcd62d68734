"""The version of sknlp_rnn (a leaf module: depends on nothing)."""

__version__ = "0.1.0.dev0"
