"""Simulators that speak the real wire protocols of docs/protocols/.

They never import drivers/: a simulator written from the protocol facts is what catches a
driver's misreading of them.
"""
