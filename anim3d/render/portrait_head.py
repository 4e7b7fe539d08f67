"""Your portrait as a 3D head: the open head built on the photo's face, textured from the photo.

    head = portrait_head(prepare_portrait("face.jpg"))   # HeadModel with a texture
    write_head_glb(head, "me.glb")                       # via anim3d.exporters.gltf

The open head's face vertices are MediaPipe's 468 landmarks (``flame/open_head_build.py``), so the same build run
on the photo's landmarks gives a head with the photo's face shape (made symmetric, at the open head's scale),
the same parts, joints and 52 morph targets. Its texture (``anim3d.flame.texture``) takes each face vertex's
colour from the photo where the landmark lies, the forehead, temples and jaw sides from the photo where they
face the camera, and fills the rest from the photo's own colours: hair (sampled above the forehead) over the
top and back of the skull, skin (sampled on the cheeks) on the sides and the neck. Where a turned face hides
one side, that side takes its colours from the mirror-image vertex on the side the camera sees. Eyes, teeth,
tongue and mouth keep the open head's colours.
"""

from __future__ import annotations

import numpy as np

from anim3d.flame.head import HeadModel, vertex_normals
from anim3d.flame.open_head_geometry import smoothstep
from anim3d.flame.texture import PhotoMapping, paint_photo, skin_vertices

UPPER_OVAL = (10, 338, 297, 332, 284, 251, 109, 67, 103, 54, 21)  # MediaPipe's face oval above the eyes
CHEEKS = (50, 280, 101, 330, 205, 425, 117, 346)  # MediaPipe landmarks on bare cheek skin
FOREHEAD_TOP, CHIN = 10, 152
NECK_SLOT = (0.17, 0.005, 0.28, 0.035)  # (u0, v0, u1, v1): outside the skin's disc and the parts' corners
FADE = 0.015  # m: beyond the face, the photo's share fades to nothing over this distance
HAIR_ABOVE = 0.03  # m above the eyes' height from which the skull is hair


def photo_colour(photo: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """Median colour (3,) of the photo's pixels in squares of ``radius`` around N x 2 points."""
    h, w = photo.shape[:2]
    samples = []
    for x, y in np.round(points).astype(int):
        x0, x1, y0, y1 = max(0, x - radius), min(w, x + radius + 1), max(0, y - radius), min(h, y + radius + 1)
        if x1 > x0 and y1 > y0:
            samples.append(photo[y0:y1, x0:x1].reshape(-1, 3))
    if not samples:
        return np.array([200.0, 160.0, 140.0])
    return np.median(np.concatenate(samples).astype(np.float64), axis=0)


def hair_colour(photo: np.ndarray, face_xy: np.ndarray, skin_rgb: np.ndarray) -> np.ndarray:
    """The colour (3,) of the hair above the face: the photo's pixels in a band above the upper face oval that
    look like neither the skin nor the background (any colour of the crop's top edge); a bald head's band
    is mostly skin, so its skull takes the skin colour; with neither, a dark brown."""
    h, w = photo.shape[:2]
    centre = face_xy.mean(0)
    top = np.array(UPPER_OVAL)
    pts = []
    for k in np.linspace(1.1, 1.45, 6):  # rays from the face centre through the upper oval, 10-45 % beyond it
        pts.append(centre + k * (face_xy[top] - centre))
    pts = np.round(np.concatenate(pts)).astype(int)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    band = photo[pts[inside, 1], pts[inside, 0]].astype(np.float64)  # N x 3
    if not len(band):
        return np.array([60.0, 45.0, 35.0])
    # the background: the crop's top row and the top halves of its sides (a gradient or a pattern is many colours)
    edge = np.concatenate([photo[0], photo[: h // 2, 0], photo[: h // 2, -1]]).astype(np.float64)[::4]  # K x 3
    near_skin = np.linalg.norm(band - skin_rgb, axis=1) < 45
    near_bg = np.linalg.norm(band[:, None] - edge[None], axis=2).min(axis=1) < 30
    hair = ~near_skin & ~near_bg
    if hair.mean() > 0.15:
        return np.median(band[hair], axis=0)
    if near_skin.mean() > near_bg.mean():
        return np.asarray(skin_rgb, np.float64)
    return np.array([60.0, 45.0, 35.0])


def fit_affine(points3d: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """2 x 4 least-squares affine camera: N x 3 head points -> N x 2 photo pixels (weak perspective)."""
    a = np.concatenate([points3d, np.ones((len(points3d), 1))], axis=1)  # N x 4
    m, *_ = np.linalg.lstsq(a, xy, rcond=None)  # 4 x 2
    return m.T


def photo_mapping(head: HeadModel, photo: np.ndarray, landmarks: np.ndarray) -> PhotoMapping:
    """Each vertex's photo position, the photo's share in its colour and its fill colour (see the module
    docstring); ``landmarks``: the photo's 478 x 3 MediaPipe pixel landmarks."""
    v = head.vertices.astype(np.float64)
    mp = np.asarray(head.parts["mediapipe_468"], np.int64)
    cam = fit_affine(v[mp], landmarks[:468, :2].astype(np.float64))  # 2 x 4
    xy = np.concatenate([v, np.ones((len(v), 1))], axis=1) @ cam.T  # V x 2
    xy[mp] = landmarks[:468, :2]
    view = np.cross(cam[0, :3], cam[1, :3])  # the camera's axis in head coordinates (x right x y down -> away)
    view = -view / np.linalg.norm(view) if view[2] < 0 else view / np.linalg.norm(view)  # toward the camera: +Z-ish
    facing = vertex_normals(v, head.faces) @ view  # V
    face_ids = np.asarray(head.parts["face"], np.int64)
    skin = skin_vertices(head)
    on_skin = np.zeros(len(v), bool)
    on_skin[skin] = True
    # the photo's share: the face whole, beyond it fading with the distance from the face and with the facing
    from scipy.spatial import cKDTree

    dist = cKDTree(v[face_ids]).query(v)[0]  # V, m
    weight = smoothstep((facing - 0.3) / 0.3) * smoothstep(1.0 - dist / FADE)
    weight[face_ids] = 1.0
    weight[~on_skin] = 0.0
    # hidden sides (a turned head) take the photo position of their mirror image
    mirror = np.asarray(head.parts.get("mirror", np.arange(len(v))), np.int64)
    swap = smoothstep((facing[mirror] - facing - 0.2) / 0.3) * (facing < 0.5)
    xy = np.where(swap[:, None] > 0.5, xy[mirror], xy)
    # fill colours: hair above the eyes' height on the skull (and behind), skin on the sides and the neck
    size = np.linalg.norm(landmarks[FOREHEAD_TOP, :2] - landmarks[CHIN, :2])
    skin_rgb = photo_colour(photo, landmarks[list(CHEEKS), :2], max(2, int(size * 0.02)))
    hair_rgb = hair_colour(photo, landmarks[:468, :2], skin_rgb)
    # the hairline: above the eyes at the front and the temples, down to the mouth's height behind the ears
    eye_y, mouth_y = v[mp[[33, 263]], 1].mean(), v[mp[[61, 291]], 1].mean()
    behind = smoothstep((v[mp[[234, 454]], 2].mean() - v[:, 2]) / 0.04)  # 0 in front of the ears, 1 well behind
    hairline = (1 - behind) * (eye_y + HAIR_ABOVE) + behind * mouth_y
    hairiness = smoothstep((v[:, 1] - hairline) / 0.03)
    hairiness[np.asarray(head.parts.get("neck", []), np.int64)] = 0.0
    fill = hairiness[:, None] * hair_rgb + (1 - hairiness[:, None]) * skin_rgb
    return PhotoMapping(xy.astype(np.float32), weight.astype(np.float32), fill.astype(np.float32))


def with_own_neck(head: HeadModel) -> np.ndarray:
    """The head's uvs with the neck moved to a free corner of the atlas (``NECK_SLOT``): the open head shares one
    plain patch of the skull's rim with it, but a portrait's rim is hair."""
    uv = np.array(head.uvs, copy=True)
    ids = np.asarray(head.parts["neck"], np.int64)
    p = head.vertices[ids][:, :2].astype(np.float64)
    q = (p - p.min(0)) / np.maximum(p.max(0) - p.min(0), 1e-9)
    u0, v0, u1, v1 = NECK_SLOT
    uv[ids, 0] = u0 + q[:, 0] * (u1 - u0)
    uv[ids, 1] = v1 - q[:, 1] * (v1 - v0)
    return uv.astype(np.float32)


def portrait_head(portrait) -> HeadModel:
    """A ``anim3d.render.portrait.Portrait`` (the aligned crop and its landmarks) -> its textured HeadModel."""
    from anim3d.flame.open_head import load_open_head
    from anim3d.flame.open_head_build import build_rest, to_head_model
    from anim3d.flame.open_head_morphs import build_morphs

    landmarks = np.asarray(portrait.landmarks, np.float64)
    rest = build_rest(landmarks, load_open_head().parts["mirror"][:468])
    head = to_head_model(rest, build_morphs(rest))
    head.uvs = with_own_neck(head)
    # the eyes, teeth, tongue and mouth keep the open head's texture (the same atlas places them alike)
    head.texture = paint_photo(head, portrait.image, photo_mapping(head, portrait.image, landmarks), load_open_head().texture)
    head.name = "anim3d_portrait_head"
    head.validate()
    return head
