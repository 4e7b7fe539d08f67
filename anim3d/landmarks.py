"""MediaPipe Face Mesh landmark indices (478 points with the irises), in one place for tracking, the video
importer, the portrait renderer and the open head's builder. "left"/"right" are the subject's: the subject's
right eye is in the image's left half."""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 478

UPPER_LIP_INNER = 13
LOWER_LIP_INNER = 14
RIGHT_EYE_OUTER = 33
RIGHT_EYE_INNER = 133
LEFT_EYE_OUTER = 263
LEFT_EYE_INNER = 362
RIGHT_EYE_UPPER = 159
RIGHT_EYE_LOWER = 145
LEFT_EYE_UPPER = 386
LEFT_EYE_LOWER = 374
LEFT_IRIS_CENTER = 473
RIGHT_IRIS_CENTER = 468
IRIS_GROUPS = (tuple(range(468, 473)), tuple(range(473, 478)))  # right, left: centre first, then 4 ring points

# Closed loops as (upper, lower) chains sharing their two end corners.
MOUTH_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
MOUTH_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
EYE_R_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_R_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_L_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_L_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
MOUTH_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
MOUTH_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
# Open chains.
BROW_R = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)  # outer .. inner (lower then upper row)
BROW_L = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # closed, from the forehead
MIDLINE = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 164, 0, 11, 12, 13, 14, 15, 16, 17,
           18, 200, 199, 175, 152)  # forehead to chin

# Points that move little with expression (forehead, nose bridge and tip, eye corners, temples, upper
# cheeks): the rigid part a head pose is estimated from.
RIGID_LANDMARKS = np.array(
    [10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 98, 327, 33, 133, 362, 263, 127, 356, 234, 454,
     116, 345, 123, 352, 50, 280, 21, 251, 54, 284, 103, 332, 67, 297, 109, 338, 71, 301, 139, 368]
)
# Landmarks that move rigidly with the skull (forehead, nose bridge, eye corners, temples): the warp's anchors.
STABLE_LANDMARKS = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 33, 133, 362, 263, 234, 454, 127, 356, 70, 300, 109, 338)
# Left/right pairs across the face's symmetry plane (for the frontal axes of a shape).
SYMMETRIC_PAIRS = np.array([(263, 33), (362, 133), (454, 234), (356, 127), (345, 116), (280, 50), (284, 54), (332, 103)])
