"""The media package on real files: probing, posters, previews, placeholders and frame sampling (no server)."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from reactbin.errors import ReactbinError
from reactbin.media.analyse import MediaAnalysis, analyse_upload
from reactbin.media.formats import Limits, sniff, sniff_file
from reactbin.media.frames import sample_frames
from reactbin.media.placeholder import placeholder_of, rgba_to_thumbhash
from reactbin.media.preview import PREVIEW_BOX, PREVIEW_MAX_BYTES, PREVIEW_MAX_FRAMES, make_preview

MEDIA = Path(__file__).parent / "fixtures" / "media"
IMAGES = Path(__file__).parent / "fixtures" / "images"


def analyse_media(path: Path, max_pixels: int, max_video_seconds: float) -> MediaAnalysis:
    return analyse_upload(path, sniff_file(path), Limits(max_pixels, max_video_seconds))


# name, mime type, kind, width, height, duration_ms, frame_count, has_audio
ACCEPTED = [
    ("h264.mp4", "video/mp4", "video", 160, 96, 1000, 10, False),
    ("h264-sound.mp4", "video/mp4", "video", 160, 96, 1000, 10, True),
    ("av1.mp4", "video/mp4", "video", 160, 96, 1000, 10, False),
    ("vp8.webm", "video/webm", "video", 160, 96, 1000, 10, False),
    ("vp9.webm", "video/webm", "video", 160, 96, 1000, 10, False),
    ("vp9-sound.webm", "video/webm", "video", 160, 96, 1008, 10, True),
    ("av1.webm", "video/webm", "video", 160, 96, 1000, 10, False),
    ("still.avif", "image/avif", "still", 160, 96, None, 1, False),
    ("animated.avif", "image/avif", "animated", 160, 96, 600, 6, False),
    ("animated.webp", "image/webp", "animated", 160, 96, 600, 6, False),
    ("animated.png", "image/png", "animated", 160, 96, 600, 6, False),
    ("animated.gif", "image/gif", "animated", 160, 96, 600, 6, False),
]


@pytest.mark.parametrize(("name", "mime", "kind", "width", "height", "duration", "frames", "audio"), ACCEPTED)
def test_accepted_media_is_analysed(
    name: str, mime: str, kind: str, width: int, height: int, duration: int | None, frames: int, audio: bool
) -> None:
    analysis = analyse_media(MEDIA / name, 64_000_000, 60)

    info = analysis.info
    assert (info.mime_type, info.kind, info.width, info.height) == (mime, kind, width, height)
    assert (info.duration_ms, info.frame_count, info.has_audio) == (duration, frames, audio)
    thumbnail = Image.open(io.BytesIO(analysis.thumbnail.data))
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (width, height)  # already within the 400 px box
    # A poster is a real frame of the clip, not a blank: the first frame has the yellow ball at the left edge.
    assert thumbnail.convert("RGB").getpixel((2, height // 2))[0] > 150
    assert analysis.placeholder is not None
    assert len(base64.b64decode(analysis.placeholder)) in range(5, 30)


# AVIF carries rotation and mirroring as irot/imir boxes (Pillow reports them as an EXIF orientation): width, height,
# thumbnail and placeholder are of the image as displayed, exactly as for JPEG. The yellow ball of the scene sits
# at the middle of the stored image's left edge; the second column is where it must be seen after the transform.
@pytest.mark.parametrize(
    ("orientation", "size", "ball"),
    [(3, (160, 96), (157, 48)), (5, (96, 160), (48, 2)), (6, (96, 160), (48, 2)), (8, (96, 160), (48, 157))],
)
def test_avif_rotation_and_mirroring_are_applied(
    orientation: int, size: tuple[int, int], ball: tuple[int, int]
) -> None:
    analysis = analyse_media(MEDIA / f"rotated-{orientation}.avif", 64_000_000, 60)

    assert (analysis.info.width, analysis.info.height) == size
    thumbnail = Image.open(io.BytesIO(analysis.thumbnail.data)).convert("RGB")
    assert thumbnail.size == size
    red, green, blue = thumbnail.getpixel(ball)
    assert (red > 180, green > 150, blue < 120) == (True, True, True), (red, green, blue)
    assert analysis.placeholder is not None


# name, status, code. Each is decided within a bounded time and without FFmpeg seeing foreign formats.
REFUSED = [
    ("no-moov.mp4", 422, "invalid_video"),
    ("truncated.mp4", 422, "invalid_video"),
    ("huge-frames.mp4", 422, "invalid_video"),  # 20000x20000: FFmpeg itself refuses the SPS
    ("16000px-frames.mp4", 422, "image_too_large"),
    ("ten-hours.mp4", 422, "video_too_long"),
    ("audio-only.mp4", 415, "unsupported_media_type"),
    ("movie.mov", 415, "unsupported_media_type"),
    ("movie.mkv", 415, "unsupported_media_type"),
    ("movie.avi", 415, "unsupported_media_type"),
    ("movie.flv", 415, "unsupported_media_type"),
    ("archive.mp4", 415, "unsupported_media_type"),
    ("document.mp4", 415, "unsupported_media_type"),
    ("polyglot.mp4", 422, "invalid_video"),
    ("huge-frame.webp", 422, "image_too_large"),
]


@pytest.mark.parametrize(("name", "status", "code"), REFUSED)
def test_bad_media_is_refused_quickly(name: str, status: int, code: str) -> None:
    started = time.monotonic()
    with pytest.raises(ReactbinError) as caught:
        analyse_media(MEDIA / name, 64_000_000, 60)

    assert (caught.value.status_code, caught.value.code) == (status, code)
    assert time.monotonic() - started < 2.0


def test_longer_than_the_setting_is_refused() -> None:
    with pytest.raises(ReactbinError) as caught:
        analyse_media(MEDIA / "ten-seconds.mp4", 64_000_000, 9.5)
    assert caught.value.code == "video_too_long"


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video/mp4"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miafMA1B", "image/avif"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", None),
        (
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm",
            "video/webm",
        ),
        (
            b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska",
            None,
        ),
        (b"RIFF\x00\x00\x00\x00AVI LIST", None),
        (b"FLV\x01\x05\x00\x00\x00\x09", None),
        (b"PK\x03\x04\x14\x00", None),
    ],
)
def test_type_comes_from_the_bytes(head: bytes, mime: str | None) -> None:
    if mime is None:
        with pytest.raises(ReactbinError) as caught:
            sniff(head)
        assert caught.value.code == "unsupported_media_type"
    else:
        assert sniff(head).mime_type == mime


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        (MEDIA / "ten-seconds.mp4", "video/mp4"),
        (MEDIA / "vp9-sound.webm", "video/webm"),
        (MEDIA / "animated.gif", "image/gif"),
        (MEDIA / "animated.webp", "image/webp"),
    ],
)
def test_previews_are_small_looping_animations(path: Path, mime: str) -> None:
    preview = make_preview(path, mime)

    image = Image.open(io.BytesIO(preview.data))
    assert image.format == "WEBP"
    assert getattr(image, "n_frames", 1) == preview.frame_count > 1
    assert image.info.get("loop") == 0
    assert max(image.size) <= PREVIEW_BOX
    assert preview.frame_count <= PREVIEW_MAX_FRAMES
    assert len(preview.data) <= PREVIEW_MAX_BYTES
    assert 500 <= preview.duration_ms <= 4100
    # The frames differ: the ball moves.
    image.seek(0)
    first = image.convert("RGB").tobytes()
    image.seek(preview.frame_count - 1)
    assert image.convert("RGB").tobytes() != first


@pytest.mark.parametrize(
    ("path", "mime", "count", "expected"),
    [
        (MEDIA / "ten-seconds.mp4", "video/mp4", 4, 4),
        (MEDIA / "vp8.webm", "video/webm", 3, 3),
        (MEDIA / "animated.gif", "image/gif", 3, 3),
        (MEDIA / "animated.png", "image/png", 10, 6),
        (IMAGES / "photo.jpg", "image/jpeg", 5, 1),
        (MEDIA / "still.avif", "image/avif", 2, 1),
    ],
)
def test_sample_frames_are_evenly_spaced_rgb_frames(path: Path, mime: str, count: int, expected: int) -> None:
    frames = list(sample_frames(path, mime, count))

    assert len(frames) == expected
    assert all(frame.mode == "RGB" for frame in frames)
    if expected > 1:
        # Evenly spaced: the moving ball is somewhere else in each sampled frame.
        assert len({frame.tobytes() for frame in frames}) == expected


def test_sample_frames_decodes_lazily() -> None:
    frames = sample_frames(MEDIA / "ten-seconds.mp4", "video/mp4", 2)
    first = next(frames)
    assert first.size == (160, 96)
    frames.close()


# Reference values: the `thumbhash` npm package (rgbaToThumbHash, 0.1.1, the encoder the UI's decoder comes with)
# run under Node on the same pixels.
def _noise(width: int, height: int, alpha: bool) -> bytes:
    out = bytearray()
    state = 12345
    for _ in range(width * height * 4):
        state = (state * 75 + 74) % 65537
        out.append(state % 256)
    if not alpha:
        out[3::4] = b"\xff" * (width * height)
    return bytes(out)


@pytest.mark.parametrize(
    ("width", "height", "alpha", "expected"),
    [
        (16, 8, False, "4OcFDIiFeXWJ9HpmhnXeuBBvtw=="),
        (8, 16, True, "oNeBAwIXePppZaNkmPCaxJ2kZZZo9ak="),
        (32, 20, False, "IPgBDIKG+lgVjLLPF3i3ULdoBQ=="),
    ],
)
def test_thumbhash_matches_the_reference_encoder(width: int, height: int, alpha: bool, expected: str) -> None:
    assert base64.b64encode(rgba_to_thumbhash(width, height, _noise(width, height, alpha))).decode() == expected


def test_placeholder_of_a_thumbnail_is_fast() -> None:
    data = (IMAGES / "photo.jpg").read_bytes()
    started = time.perf_counter()
    placeholder = placeholder_of(data)
    assert time.perf_counter() - started < 0.5
    assert placeholder == placeholder_of(data)


def test_a_probe_past_its_deadline_is_a_422_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    from reactbin.media import video

    monkeypatch.setattr(video, "PROBE_SECONDS", 1e-6)
    with pytest.raises(ReactbinError) as caught:
        analyse_media(MEDIA / "h264.mp4", 64_000_000, 60)
    assert (caught.value.status_code, caught.value.code) == (422, "media_timeout")


@pytest.mark.parametrize(("name", "mime"), [("ten-seconds.mp4", "video/mp4"), ("animated.gif", "image/gif")])
def test_a_preview_past_its_deadline_is_given_up(monkeypatch: pytest.MonkeyPatch, name: str, mime: str) -> None:
    from reactbin.media import frames

    monkeypatch.setattr(frames, "DECODE_SECONDS", 1e-6)
    with pytest.raises(ReactbinError) as caught:
        make_preview(MEDIA / name, mime)
    assert caught.value.code == "media_timeout"


def test_every_accepted_type_has_an_object_key_extension() -> None:
    from reactbin.media.formats import ACCEPTED_TYPES
    from reactbin.storage.keys import EXTENSIONS

    assert set(ACCEPTED_TYPES) == set(EXTENSIONS)
