"""The SimPy world that runs lock designs in virtual time, and the tools around it."""
