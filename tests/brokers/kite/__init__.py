"""Tests of the Kite Connect adapter."""
