"""Bad masks and bad options raise a ValueError that says what was expected."""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import VIDEO_SCHEMES

from rleseg.tokenizers import create_tokenizer, list_tokenizers

SCHEMES = list_tokenizers()


def small_tokenizer(name: str):
    """A 4x5 tokenizer with 2 classes (1 for binary); video schemes take 2 frames."""
    return create_tokenizer(name, mask_size=(4, 5), num_classes=1 if name == "binary" else 2)


def as_input(tok, mask):
    """Wrap a mask as the scheme's input: iw takes (mask, instances)."""
    return (mask, np.zeros(np.shape(mask), dtype=np.int64)) if tok.instance_aware else mask


# ----- bad masks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCHEMES)
def test_wrong_shape_says_the_expected_shape(name: str) -> None:
    tok = small_tokenizer(name)
    shape = tok.mask_shape[:-2] + (5, 4)  # transposed
    with pytest.raises(ValueError, match=r"has shape \(.*5, 4\), expected \(.*4, 5\)"):
        tok.encode(as_input(tok, np.zeros(shape, dtype=np.int64)))


@pytest.mark.parametrize("name", SCHEMES)
def test_larger_than_mask_size_says_to_resize(name: str) -> None:
    tok = small_tokenizer(name)
    big = np.zeros(tok.mask_shape[:-2] + (8, 10), dtype=np.int64)
    with pytest.raises(ValueError, match="resize or subsample it first"):
        tok.encode(as_input(tok, big))


@pytest.mark.parametrize("name", SCHEMES)
@pytest.mark.parametrize("shape", [(20,), (1, 1, 4, 5), ()])
def test_wrong_ndim(name: str, shape: tuple[int, ...]) -> None:
    tok = small_tokenizer(name)
    with pytest.raises(ValueError, match=r"expected \((\d+, )?4, 5\)"):
        tok.encode(as_input(tok, np.zeros(shape, dtype=np.int64)))


@pytest.mark.parametrize("name", [n for n in SCHEMES if n in VIDEO_SCHEMES])
def test_video_scheme_given_a_single_frame(name: str) -> None:
    tok = small_tokenizer(name)
    with pytest.raises(ValueError, match=r"expected \(2, 4, 5\) \(the tokenizer's mask size with num_frames"):
        tok.encode(np.zeros((4, 5), dtype=np.int64))


@pytest.mark.parametrize("name", SCHEMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, object, str])
def test_non_integer_dtype(name: str, dtype) -> None:
    tok = small_tokenizer(name)
    with pytest.raises(ValueError, match="must have an integer or bool dtype"):
        tok.encode(as_input(tok, np.zeros(tok.mask_shape, dtype=dtype)))


@pytest.mark.parametrize("name", SCHEMES)
def test_class_id_above_num_classes(name: str) -> None:
    tok = small_tokenizer(name)
    mask = np.zeros(tok.mask_shape, dtype=np.int64)
    mask.flat[-1] = tok.num_classes + 1
    with pytest.raises(ValueError, match=rf"holds value {tok.num_classes + 1}, expected values in \[0, "):
        tok.encode(as_input(tok, mask))


@pytest.mark.parametrize("name", SCHEMES)
def test_negative_class_id(name: str) -> None:
    tok = small_tokenizer(name)
    mask = np.zeros(tok.mask_shape, dtype=np.int8)
    mask.flat[3] = -1
    with pytest.raises(ValueError, match=r"holds value -1, expected values in \[0, "):
        tok.encode(as_input(tok, mask))


@pytest.mark.parametrize("name", SCHEMES)
@pytest.mark.parametrize("bad", [None, "mask", 3, 2.5])
def test_non_array_input(name: str, bad) -> None:
    tok = small_tokenizer(name)
    with pytest.raises(ValueError, match="must be a numpy array|encode takes \\(mask, instances\\)"):
        tok.encode(bad)


@pytest.mark.parametrize("name", [n for n in SCHEMES if n != "iw"])
def test_nested_list_is_not_taken_for_an_array(name: str) -> None:
    tok = small_tokenizer(name)
    with pytest.raises(ValueError, match="must be a numpy array of shape"):
        tok.encode(np.zeros(tok.mask_shape, dtype=np.int64).tolist())


# ----- iw: instances ----------------------------------------------------------------------------------
def test_iw_needs_a_pair() -> None:
    tok = small_tokenizer("iw")
    with pytest.raises(ValueError, match=r"encode takes \(mask, instances\)"):
        tok.encode(np.zeros((4, 5), dtype=np.int64))
    with pytest.raises(ValueError, match=r"encode takes \(mask, instances\)"):
        tok.encode((np.zeros((4, 5), dtype=np.int64),))


def test_iw_instance_covering_background() -> None:
    tok = small_tokenizer("iw")
    classes, instances = np.zeros((4, 5), dtype=np.int64), np.zeros((4, 5), dtype=np.int64)
    classes[0, :2] = 1
    instances[0, :3] = 4  # pixel (0, 2) is background
    with pytest.raises(ValueError, match="instance 4 covers background pixels"):
        tok.encode((classes, instances))


def test_iw_instance_spanning_two_classes() -> None:
    tok = small_tokenizer("iw")
    classes, instances = np.zeros((4, 5), dtype=np.int64), np.zeros((4, 5), dtype=np.int64)
    classes[1, :2], classes[2, :2] = 1, 2
    instances[1:3, :2] = 6
    instances[3, 4], classes[3, 4] = 2, 2  # a fine instance beside it
    with pytest.raises(ValueError, match=r"instance 6 has pixels of several classes \[1, 2\]; expected one"):
        tok.encode((classes, instances))


def test_iw_instances_of_wrong_shape_or_dtype_or_sign() -> None:
    tok = small_tokenizer("iw")
    classes = np.zeros((4, 5), dtype=np.int64)
    with pytest.raises(ValueError, match=r"instances has shape \(5, 4\), expected \(4, 5\)"):
        tok.encode((classes, np.zeros((5, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match="instances must have an integer or bool dtype"):
        tok.encode((classes, np.zeros((4, 5))))
    with pytest.raises(ValueError, match="instances holds value -3"):
        tok.encode((classes, np.full((4, 5), -3)))


# ----- bad options ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCHEMES)
def test_unknown_order(name: str) -> None:
    with pytest.raises(ValueError, match="order must be one of 'row', 'col'; got 'diag'"):
        create_tokenizer(name, mask_size=4, order="diag")


@pytest.mark.parametrize("name", [n for n in SCHEMES if n != "bac"])
def test_unknown_starts(name: str) -> None:
    with pytest.raises(ValueError, match="starts must be one of '1d', '2d'; got '3d'"):
        create_tokenizer(name, mask_size=4, starts="3d")


def test_bac_has_no_starts_option() -> None:
    with pytest.raises(ValueError, match="bad options for tokenizer 'bac'.*'starts'"):
        create_tokenizer("bac", mask_size=4, starts="1d")


@pytest.mark.parametrize("name", [n for n in SCHEMES if n != "binary"])
@pytest.mark.parametrize("num_classes", [0, -1, 2.5, True, "2"])
def test_bad_num_classes(name: str, num_classes) -> None:
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 1"):
        create_tokenizer(name, mask_size=4, num_classes=num_classes)


@pytest.mark.parametrize("num_classes", [0, 2])
def test_binary_takes_one_class(num_classes: int) -> None:
    with pytest.raises(ValueError, match="binary takes num_classes=1.*use 'multiclass' or 'lac'"):
        create_tokenizer("binary", mask_size=4, num_classes=num_classes)


@pytest.mark.parametrize("mask_size", [0, -3, (4, 0), (4, 5, 6), 4.0, "4", (4.5, 4), None])
def test_bad_mask_size(mask_size) -> None:
    with pytest.raises(ValueError, match="mask_size must"):
        create_tokenizer("lac", mask_size=mask_size)


@pytest.mark.parametrize("name", SCHEMES)
def test_max_len_too_small_for_one_run(name: str) -> None:
    tok = small_tokenizer(name)
    too_small = tok.min_tokens_per_run  # one run needs min_tokens_per_run tokens, plus EOS
    with pytest.raises(ValueError, match=rf"max_len={too_small} cannot hold one run"):
        create_tokenizer(**dict(tok.to_dict(), max_len=too_small))
    create_tokenizer(**dict(tok.to_dict(), max_len=too_small + 1))  # just enough


@pytest.mark.parametrize("max_len", [0, -5, 2.5])
def test_max_len_must_be_positive_integer(max_len) -> None:
    with pytest.raises(ValueError, match="max_len must be a positive integer or None"):
        create_tokenizer("lac", mask_size=4, max_len=max_len)


@pytest.mark.parametrize("name", ["cw", "iw", *VIDEO_SCHEMES])
@pytest.mark.parametrize("num_frames", [0, -1, 1.5])
def test_bad_num_frames(name: str, num_frames) -> None:
    with pytest.raises(ValueError, match="num_frames must be an integer >= 1"):
        create_tokenizer(name, mask_size=4, num_frames=num_frames)


@pytest.mark.parametrize("name", ["binary", "multiclass", "lac", "bac", "diff"])
def test_static_schemes_refuse_frames(name: str) -> None:
    with pytest.raises(ValueError, match=rf"bad options for tokenizer '{name}'.*num_frames"):
        create_tokenizer(name, mask_size=4, num_frames=2)


@pytest.mark.parametrize("name", ["3d-c", "3d-f", "bac"])
def test_unknown_classes_mode(name: str) -> None:
    with pytest.raises(ValueError, match="classes must be one of 'token', 'lac'; got 'onehot'"):
        create_tokenizer(name, mask_size=4, classes="onehot")


@pytest.mark.parametrize("name", ["tac", "ltac"])
def test_tac_schemes_refuse_a_classes_mode_they_would_ignore(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: classes must be 'token', got 'lac'"):
        create_tokenizer(name, mask_size=4, classes="lac")


@pytest.mark.parametrize("name", ["multiclass", "lac", "cw", "iw"])
def test_schemes_without_a_classes_option(name: str) -> None:
    with pytest.raises(ValueError, match=rf"bad options for tokenizer '{name}'.*'classes'"):
        create_tokenizer(name, mask_size=4, classes="lac")


@pytest.mark.parametrize("name", SCHEMES)
def test_unknown_run_order(name: str) -> None:
    with pytest.raises(ValueError, match="run_order must be"):
        create_tokenizer(name, mask_size=4, run_order="zigzag")


@pytest.mark.parametrize("name", ["bac", "diff"])
def test_cumulative_schemes_refuse_random_run_order(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}: run positions accumulate.*must be 'raster'"):
        create_tokenizer(name, mask_size=4, run_order="random")


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown tokenizer 'rle'; known schemes: binary, multiclass, lac"):
        create_tokenizer("rle", mask_size=4)


@pytest.mark.parametrize("name", SCHEMES)
def test_unknown_option_is_named(name: str) -> None:
    with pytest.raises(ValueError, match=rf"bad options for tokenizer '{name}'.*'colour'"):
        create_tokenizer(name, mask_size=4, colour="red")


def test_missing_mask_size_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bad options for tokenizer 'lac'.*mask_size"):
        create_tokenizer("lac")
