from types import SimpleNamespace
from typing import Any

import pytest

import receiptcore.adapters.extractors as plugins
from receiptcore.errors import ConfigurationError
from receiptcore.plugins import ExtractorConfig


class _Fake:
    name = "fake"
    version = "9"

    async def extract(self, document: Any) -> Any:
        return None


class _EntryPoint:
    def __init__(self, name: str, factory: Any) -> None:
        self.name = name
        self._factory = factory
        self.dist = SimpleNamespace(version="1.2.3", metadata={"Name": "receiptcore-fake"})

    def load(self) -> Any:
        return self._factory


def _install(monkeypatch: pytest.MonkeyPatch, **factories: Any) -> None:
    eps = [_EntryPoint(name, factory) for name, factory in factories.items()]
    monkeypatch.setattr(plugins, "entry_points", lambda **_kwargs: eps)


def test_available_extractors_lists_name_version_and_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, zeta=_Fake, alpha=_Fake)
    infos = plugins.available_extractors()
    assert [(i.name, i.version, i.distribution) for i in infos] == [
        ("alpha", "1.2.3", "receiptcore-fake"),
        ("zeta", "1.2.3", "receiptcore-fake"),
    ]


def test_factories_get_their_config_only_when_they_take_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def with_config(config: Any = None) -> _Fake:
        seen.append(config)
        return _Fake()

    def with_kwargs(**kwargs: Any) -> _Fake:
        seen.append(kwargs)
        return _Fake()

    config = ExtractorConfig(name="a", options={"model": "m"})
    _install(monkeypatch, a=with_config, b=_Fake, c=with_kwargs)
    assert plugins.load_extractor("a", config).name == "fake"
    assert plugins.load_extractor("b", config).name == "fake"
    assert plugins.load_extractor("c").name == "fake"
    assert seen == [config, {"config": ExtractorConfig(name="c")}]


def test_builtin_configs_reach_only_a_factory_that_names_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def named(config: Any = None, anthropic: Any = None) -> _Fake:
        seen.append(anthropic)
        return _Fake()

    def greedy(**kwargs: Any) -> _Fake:
        seen.append(sorted(kwargs))
        return _Fake()

    _install(monkeypatch, named=named, greedy=greedy)
    plugins.load_extractor("named", anthropic="secret-config", shared_ledger=None)
    plugins.load_extractor("greedy", anthropic="secret-config")
    assert seen == ["secret-config", ["config"]]


def test_a_type_error_inside_a_factory_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(config: Any = None) -> _Fake:
        raise TypeError("bug inside the plugin")

    _install(monkeypatch, broken=broken)
    with pytest.raises(TypeError, match="bug inside the plugin"):
        plugins.load_extractor("broken")


def test_unknown_names_and_non_extractors_are_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, odd=object)
    with pytest.raises(ConfigurationError, match="installed extractors: odd"):
        plugins.load_extractor("missing")
    with pytest.raises(ConfigurationError, match="does not implement"):
        plugins.load_extractor("odd")


def test_the_ocr_extractor_is_registered() -> None:
    assert "ocr" in {i.name for i in plugins.available_extractors()}
