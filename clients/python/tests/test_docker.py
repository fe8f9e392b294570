"""Docker sandboxes (`isolation="docker"`), and `image`/`template`, against the real bridge.

Tests taking `docker_bridge_args` skip without a Docker Engine and a static agent (conftest).
"""

from typing import List

import pytest

from rpc_test_support import DOCKER_IMAGE, containers_of_bridge
from sandbox_rpc import AsyncSandbox, InvalidArgumentException, Sandbox
from sandbox_rpc._common import create_params

MISSING_IMAGE = "sandbox-rpc-no-such-image:latest"


def assert_no_containers_left(bridge_pid: int) -> None:
    left = containers_of_bridge(bridge_pid)
    assert not left, f"containers of bridge {bridge_pid} outlived kill(): {left}"


def params_for(**options: object) -> dict:
    base = dict(timeout=None, metadata=None, envs=None, allow_internet_access=None, isolation=None, cwd=None,
                limits=None, image=None, template=None)
    return create_params(**{**base, **options})  # type: ignore[arg-type]


def test_template_is_the_image_only_for_docker() -> None:
    assert "image" not in params_for(template="base")
    assert "image" not in params_for(template="base", isolation="none")
    assert params_for(template="base", isolation="docker")["image"] == "base"
    assert params_for(template="base", isolation="docker", image="mine:1")["image"] == "mine:1"
    assert params_for(isolation="bwrap", image="mine:1")["image"] == "mine:1"  # the bridge judges it
    assert "image" not in params_for(isolation="docker")


def test_docker_sandbox_runs_as_user_and_keeps_files(docker_bridge_args: List[str]) -> None:
    sandbox = Sandbox.create(isolation="docker", bridge_args=docker_bridge_args)
    try:
        assert (sandbox.isolation, sandbox.home) == ("docker", "/home/user")
        result = sandbox.commands.run("id -un; echo hi")
        assert (result.stdout, result.stderr, result.exit_code) == ("user\nhi\n", "", 0)
        info = sandbox.files.write("notes/hello.txt", "héllo\n")
        assert info.path == "/home/user/notes/hello.txt"
        assert sandbox.files.read("notes/hello.txt") == "héllo\n"
        assert sandbox.commands.run("cat /home/user/notes/hello.txt").stdout == "héllo\n"
    finally:
        assert sandbox.kill() is True
    assert_no_containers_left(sandbox.bridge_pid)


def test_image_needs_docker_isolation(bridge_path: str) -> None:
    with pytest.raises(InvalidArgumentException) as caught:
        Sandbox.create(isolation="none", image=DOCKER_IMAGE)
    assert caught.value.kind == "InvalidParams" and (caught.value.data or {}).get("field") == "image"
    # E2B's template names are still ignored by local sandboxes.
    with Sandbox.create("base", isolation="none") as sandbox:
        assert sandbox.isolation == "none"
        assert sandbox.commands.run("echo ok").stdout == "ok\n"


def test_template_is_the_image_of_a_docker_sandbox(docker_bridge_args: List[str]) -> None:
    with Sandbox.create(DOCKER_IMAGE, isolation="docker", bridge_args=docker_bridge_args) as sandbox:
        assert sandbox.commands.run("id -un").stdout == "user\n"
    assert_no_containers_left(sandbox.bridge_pid)
    with pytest.raises(InvalidArgumentException) as caught:
        Sandbox.create(MISSING_IMAGE, isolation="docker", bridge_args=docker_bridge_args)
    assert caught.value.kind == "InvalidParams" and (caught.value.data or {}).get("field") == "image"
    # An explicit image wins over the template.
    with Sandbox.create(MISSING_IMAGE, isolation="docker", image=DOCKER_IMAGE, bridge_args=docker_bridge_args) as sandbox:
        assert sandbox.commands.run("echo hi").stdout == "hi\n"
    assert_no_containers_left(sandbox.bridge_pid)


async def test_async_docker_sandbox(docker_bridge_args: List[str]) -> None:
    sandbox = await AsyncSandbox.create(DOCKER_IMAGE, isolation="docker", bridge_args=docker_bridge_args)
    try:
        result = await sandbox.commands.run("id -un; echo hi")
        assert (result.stdout, result.exit_code) == ("user\nhi\n", 0)
    finally:
        assert await sandbox.kill() is True
    assert_no_containers_left(sandbox.bridge_pid)
    with pytest.raises(InvalidArgumentException) as caught:
        await AsyncSandbox.create(isolation="none", image=DOCKER_IMAGE)
    assert caught.value.kind == "InvalidParams"
