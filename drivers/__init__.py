"""Protocol drivers: one sub-package per protocol, each in transport / codec / driver layers."""
