#!/usr/bin/python3
"""Golden values for Images.ResizeMatchesPillowsBilinear: Pillow's BILINEAR resize (antialiased when shrinking; the
filter torchvision's Resize(antialias=True) follows) of one 7 x 10 grey test image to 3 x 4 and to 11 x 13
(height x width). Debian python3-pil:
    /usr/bin/python3 tests/reference/make_resize_golden.py > tests/reference/resize_golden.json"""
import json
from PIL import Image

height, width = 7, 10
pixels = [(y * 37 + x * 11 + (x * y) % 7 * 19) % 256 for y in range(height) for x in range(width)]
image = Image.new("L", (width, height))
image.putdata(pixels)
out = {"height": height, "width": width, "pixels": pixels, "resized": []}
for h, w in [(3, 4), (11, 13)]:
    out["resized"].append({"height": h, "width": w, "pixels": list(image.resize((w, h), Image.BILINEAR).getdata())})
print(json.dumps(out))
