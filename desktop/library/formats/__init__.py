"""One module per family of file formats; ``desktop.library.loaders`` picks one."""
