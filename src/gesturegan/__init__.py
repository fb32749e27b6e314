"""gesturegan: grow new sound gestures with GANs from a folder of sounds."""

__version__ = "0.1.0"
