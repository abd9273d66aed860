"""Explanations of served scores: the builder and its picture."""
