"""Engine outputs for a Motion (see ../shared/DESIGN.md).

- ``anim3d.exporters.gltf``: ``write_glb(motion, path, head=None, audio=None)`` — skinned head, 52 ARKit
  morph targets, one animation (weights + neck/eye rotations + root translation).
- ``anim3d.exporters.retarget``: ``retarget(motion, avatar, out, audio=None) -> RetargetReport`` — add
  the animation to a user's glTF/GLB/VRM.
- ``anim3d.exporters.gltf_read``: ``read_gltf(path)`` — a user's glTF/GLB/VRM, read only after checking its
  container, URIs (inside its folder), indices and byte ranges (``anim3d.exporters.gltf_check``).
- ``anim3d.exporters.livelink``: ``write_livelink_csv`` / ``read_livelink_csv`` (Live Link Face takes).
- ``anim3d.exporters.preview_video``: ``write_preview_mp4(motion, path, audio=None, head=None, size=512)``.
- ``anim3d.exporters.motion_io``: ``load_motion(path)`` for ``.npz`` and Live Link ``.csv``.
"""
