"""The second ear: the band heard as audio (a file or a sound card), in the same feature space as MIDI."""
