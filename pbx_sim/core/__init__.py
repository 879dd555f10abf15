"""The simulated PBX: clock, channels, the AMI events they produce, and the engine that runs calls."""
