"""Live streaming of Motions to game engines over UDP: OSC, and Live Link Face (see ../shared/DESIGN.md).

- ``transport``: ``Frame`` (one tick), the ``Sender`` protocol, ``UdpTarget``, ``parse_target``;
- ``vmc``: ``VMCSender`` (VMC protocol, port 39539); ``plain``: ``PlainSender`` (``/anim3d/frame``, 60 floats,
  port 39540); ``livelink_face``: ``LiveLinkFaceSender`` (the Live Link Face app's UDP packets, port 11111, which
  Unreal's Live Link receives); ``senders``: protocol name -> sender;
- ``stream``: ``stream_motion(chunks, sender, fps=60)`` paces Frames from Motion chunks on a monotonic clock;
- ``process``: ``stream_motion_in_process``, the same from a sending process of its own;
- ``unity/``: the Unity package receiving the plain scheme.
"""
