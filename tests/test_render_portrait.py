"""Portrait finding, cropping and alignment, and its clear errors."""

import numpy as np
import pytest

from anim3d.errors import InputError
from anim3d.render.portrait import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, eye_distance, prepare_portrait


@pytest.fixture(scope="module")
def astronaut():
    import skimage.data

    return skimage.data.astronaut()


def test_crop_is_aligned_and_landmarks_match(astronaut):
    # rotate the photo by 15 degrees: the crop must level the eyes again
    from PIL import Image

    tilted = np.asarray(Image.fromarray(astronaut).rotate(15, resample=Image.BILINEAR, fillcolor=(128, 128, 128)))
    p = prepare_portrait(tilted, size=256)
    assert p.image.shape == (256, 256, 3) and p.image.dtype == np.uint8
    assert p.landmarks.shape == (478, 3)
    le = p.landmarks[list(LEFT_EYE_CORNERS), :2].mean(0)
    re = p.landmarks[list(RIGHT_EYE_CORNERS), :2].mean(0)
    angle = np.degrees(np.arctan2(re[1] - le[1], re[0] - le[0]))
    assert abs(angle) < 3.0, angle
    centre = p.landmarks[:468, :2].mean(0)
    assert np.all(np.abs(centre - 128) < 40), centre
    assert 40 < eye_distance(p.landmarks) < 100


def test_no_face_is_a_clear_error(tmp_path):
    img = np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[None, :, None], (300, 1, 3))
    path = tmp_path / "wall.png"
    from PIL import Image

    Image.fromarray(img).save(path)
    with pytest.raises(InputError, match="no face") as e:
        prepare_portrait(path)
    assert "wall.png" in str(e.value)


def test_several_faces_is_a_clear_error(astronaut):
    face = astronaut[:300, 100:400]
    two = np.concatenate([face, face], 1)
    with pytest.raises(InputError, match="2 faces"):
        prepare_portrait(two, source="pair.png")


def test_tiny_face_is_a_clear_error(astronaut):
    from PIL import Image

    small = np.asarray(Image.fromarray(astronaut).resize((240, 240), Image.BILINEAR))
    big = np.full((600, 600, 3), 200, np.uint8)
    big[180:420, 180:420] = small
    with pytest.raises(InputError, match="too small"):
        prepare_portrait(big, source="tiny.png")


def test_unreadable_file(tmp_path):
    bad = tmp_path / "face.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(InputError, match="not a readable image"):
        prepare_portrait(bad)
    with pytest.raises(InputError, match="not found"):
        prepare_portrait(tmp_path / "missing.jpg")
