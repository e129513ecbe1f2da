"""One module per channel; each turns its request into a `ChannelIntake` and calls
the one `submit_petition`."""
