"""The live drummer: listen to a band over MIDI and play drums with it in real time."""
