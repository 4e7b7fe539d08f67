"""Live OSC streaming of Motions to game engines (see ../shared/DESIGN.md).

- ``unity_bridge.stream``: ``stream_motion(chunks, sender, fps=60)`` paces Frames from an
  iterator of Motion chunks on a monotonic clock; ``UdpTarget``, ``parse_target``.
- ``unity_bridge.vmc``: ``VMCSender`` (VMC protocol, port 39539).
- ``unity_bridge.plain``: ``PlainSender`` (``/anim3d/frame``, 60 floats, port 39540).
- ``unity_bridge/unity/``: the Unity package receiving the plain scheme.
"""
