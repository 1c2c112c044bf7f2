"""Slim-compatible networks built from raw ``tf.compat.v1`` ops, with slim's variable names."""
