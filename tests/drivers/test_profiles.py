"""Device profiles: the recipe's target chooses the family, and the family says everything else."""

from __future__ import annotations

import pytest

from station.domain.errors import ConfigurationError
from station.domain.recipe import LOCK_METHOD_TARGETS, SUPPORTED_LOCK_METHODS, LockMethod, LockSettings
from station.drivers.probe import PyOcdProbe
from station.drivers.profiles import all_profiles, covers, profile_and_lock, profile_for_target


@pytest.mark.parametrize("target", ["nrf52", "nrf52832", "nrf52833", "nrf52840"])
def test_every_nrf52_target_gets_the_nrf52_profile_and_its_approtect_lock(target: str) -> None:
    profile = profile_for_target(target)
    assert profile.family == "nRF52"
    assert covers(profile, target)
    assert profile.lock(LockSettings(LockMethod.NRF52_APPROTECT)).method is LockMethod.NRF52_APPROTECT
    assert profile.locks[LockMethod.NRF52_APPROTECT].reversible


@pytest.mark.parametrize(
    "target", ["efr32mg12p433f1024gm68", "efr32bg13p632f512gm48", "efm32pg12b500f1024gl125", "efm32gg11b820f2048gl192",
               "efm32tg11b520f128gm80", "efr32fg14p233f256gm48", "efr32zg14p231f256gm32", "efr32mg1p232f256gm48"],
)  # fmt: skip
def test_every_series_1_efm32_or_efr32_pack_target_gets_the_efm32_profile_and_its_debug_lock_word(target: str) -> None:
    profile = profile_for_target(target)
    assert profile.family == "EFM32/EFR32 Series 1"
    lock = profile.lock(LockSettings(LockMethod.EFM32_DEBUG_LOCK_WORD))
    assert lock.method is LockMethod.EFM32_DEBUG_LOCK_WORD and not lock.port_silent_when_locked
    assert lock.inspection_options == {"target_override": "cortex_m", "allow_no_cores": True}
    meaning = profile.locks[LockMethod.EFM32_DEBUG_LOCK_WORD]
    assert meaning.reversible and "AAP device erase" in meaning.recovery
    with pytest.raises(ConfigurationError, match="nrf52-approtect"):
        profile.lock(LockSettings(LockMethod.NRF52_APPROTECT))


@pytest.mark.parametrize("target", ["stm32f412xg", "stm32f429xg", "stm32f429xi", "stm32f439xi"])
def test_every_stm32f4_target_gets_the_stm32_profile_and_both_rdp_levels(target: str) -> None:
    profile = profile_for_target(target)
    assert profile.family == "STM32F4"
    assert profile.lock(LockSettings(LockMethod.STM32_RDP1)).method is LockMethod.STM32_RDP1
    assert profile.locks[LockMethod.STM32_RDP1].reversible
    assert not profile.locks[LockMethod.STM32_RDP2].reversible
    assert profile.lock(LockSettings(LockMethod.STM32_RDP2, permanent=True)).port_silent_when_locked


@pytest.mark.parametrize(
    "target", ["stm32f103rc", "stm32h743xx", "k66f18", "nrf51", "nrf91", "cortex_m", "efm32gg990f1024",
               "efm32tg108f32", "efr32mg21a010f1024im32", "efm32pg22c200f512im40"],
)  # fmt: skip
def test_a_target_no_profile_covers_is_refused_naming_the_supported_ones(target: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        profile_for_target(target)
    assert str(refused.value) == (
        f"no device profile covers target {target!r} "
        "(supported targets: nrf52*, stm32f412*, stm32f429*, stm32f439*, k64f*, efm32gg1*, efm32jg1*, efm32pg1*, "
        "efm32tg11*, efr32bg1*, efr32fg1*, efr32mg1*, efr32zg14*)"
    )
    with pytest.raises(ConfigurationError):
        PyOcdProbe("sim:unit-0001", target, LockSettings(LockMethod.NRF52_APPROTECT))


def test_a_lock_method_the_profile_does_not_offer_is_refused_naming_both() -> None:
    with pytest.raises(ConfigurationError) as refused:
        profile_and_lock("nrf52840", LockMethod.STM32_RDP1)
    assert str(refused.value) == (
        "lock method 'stm32-rdp1' does not fit target 'nrf52840' (the nRF52 profile offers: nrf52-approtect)"
    )
    with pytest.raises(ConfigurationError, match="stm32-rdp1"):
        profile_for_target("nrf52840").lock(LockSettings(LockMethod.STM32_RDP1))


def test_the_profiles_offer_exactly_what_the_recipe_loader_accepts() -> None:
    """The domain's table (what the loader accepts) and the profiles (what the station can do) agree."""
    for method in SUPPORTED_LOCK_METHODS:
        for prefix in LOCK_METHOD_TARGETS[method]:
            assert method in profile_for_target(prefix).locks
    offered = {(method, prefix) for profile in all_profiles() for method in profile.locks
               for prefix in profile.target_prefixes}  # fmt: skip
    assert offered == {(method, prefix) for method in SUPPORTED_LOCK_METHODS for prefix in LOCK_METHOD_TARGETS[method]}


class _Target:
    """The memory a session's target reads, as the probe would return it (driver boundary)."""

    def __init__(self, words: dict[int, int]) -> None:
        self.words = words
        self.reads: list[tuple[int, int]] = []

    def read_memory_block32(self, address: int, count: int) -> list[int]:
        self.reads.append((address, count))
        return [self.words[address + 4 * index] for index in range(count)]


def test_the_nrf52_device_id_is_ficr_deviceid_high_word_first() -> None:
    target = _Target({0x1000_0060: 0x89AB_CDEF, 0x1000_0064: 0x0123_4567})
    assert profile_for_target("nrf52840").read_device_id(target) == "0123456789ABCDEF"
    assert target.reads == [(0x1000_0060, 2)]


def test_the_stm32_device_id_is_the_96_bit_uid_high_word_first() -> None:
    target = _Target({0x1FFF_7A10: 0x0041_003A, 0x1FFF_7A14: 0x3133_510E, 0x1FFF_7A18: 0x3736_3830})
    assert profile_for_target("stm32f429xi").read_device_id(target) == "37363830" "3133510E" "0041003A"
    assert target.reads == [(0x1FFF_7A10, 3)]


def test_the_efm32_device_id_is_devinfo_uniqueh_then_uniquel() -> None:
    target = _Target({0x0FE0_81F0: 0xFE12_3456, 0x0FE0_81F4: 0x000B_57FF})
    assert profile_for_target("efr32mg12p433f1024gm68").read_device_id(target) == "000B57FFFE123456"
    assert target.reads == [(0x0FE0_81F0, 2)]
