"""The Qt user interface. Widgets lay out and display; domain work runs on workers."""
