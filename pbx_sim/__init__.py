"""A PBX simulator that speaks real AMI and FastAGI, faithful to Asterisk 22 (see issue 3)."""
