"""Device simulators (hil/sim), the simulated rig, and the hardware-in-the-loop suite."""
