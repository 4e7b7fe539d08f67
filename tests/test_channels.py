import pytest

from anim3d import channels as ch


def test_52_unique_names_in_apple_order():
    assert len(ch.ARKIT_NAMES) == 52 == len(set(ch.ARKIT_NAMES))
    assert ch.ARKIT_NAMES[0] == "eyeBlinkLeft" and ch.ARKIT_NAMES[-1] == "tongueOut"
    assert ch.ARKIT_NAMES.index("jawLeft") < ch.ARKIT_NAMES.index("jawRight")


@pytest.mark.parametrize(
    "to, back",
    [(ch.to_pascal, ch.from_pascal), (ch.to_apple_raw, ch.from_apple_raw)],
)
def test_conversions_are_bijective(to, back):
    converted = [to(n) for n in ch.ARKIT_NAMES]
    assert len(set(converted)) == 52
    assert [back(c) for c in converted] == list(ch.ARKIT_NAMES)


def test_apple_raw_spelling():
    assert ch.to_apple_raw("eyeBlinkLeft") == "eyeBlink_L"
    assert ch.to_apple_raw("mouthSmileRight") == "mouthSmile_R"
    # directions, not sides
    assert ch.to_apple_raw("jawLeft") == "jawLeft"
    assert ch.to_apple_raw("mouthRight") == "mouthRight"
    assert ch.to_apple_raw("browInnerUp") == "browInnerUp"
    assert ch.to_pascal("eyeLookUpRight") == "EyeLookUpRight"


def test_unknown_names_raise():
    with pytest.raises(KeyError):
        ch.to_pascal("eyeBlink")
    with pytest.raises(KeyError):
        ch.from_apple_raw("jaw_L")  # "jawLeft" is a direction: its raw form has no suffix


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("eyeBlinkLeft", "eyeBlinkLeft"),
        ("EyeBlinkLeft", "eyeBlinkLeft"),
        ("eyeBlink_L", "eyeBlinkLeft"),
        ("EYEBLINK_R", "eyeBlinkRight"),
        ("eye_blink_left", "eyeBlinkLeft"),
        ("eyeBlink.L", "eyeBlinkLeft"),
        ("blendShape1.jawOpen", "jawOpen"),
        ("ARKit_mouthSmile_L", "mouthSmileLeft"),
        ("jawleft", "jawLeft"),
        ("MouthRight", "mouthRight"),
        ("tongue-out", "tongueOut"),
        ("viseme_aa", None),
        ("Fcl_MTH_A", None),
    ],
)
def test_canonical_name(spelling, expected):
    assert ch.canonical_name(spelling) == expected


def test_canonical_name_accepts_every_standard_spelling():
    for name, pascal, raw in zip(ch.ARKIT_NAMES, ch.PASCAL_NAMES, ch.APPLE_RAW_NAMES):
        for s in (name, pascal, raw, name.lower(), pascal.upper()):
            assert ch.canonical_name(s) == name, s
