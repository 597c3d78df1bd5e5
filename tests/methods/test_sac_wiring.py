"""One SAC wiring: every SAC-based method's config is a :class:`SACConfig` with the same names (paper names as
aliases), one ``--set`` reaches them all, older run records still match, and :meth:`SAC.step` (the one
update) computes exactly what the plain SAC update computes."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from harness.cli import main
from harness.config import ConfigError, config_to_dict, job_config
from harness.jobs import Job, resolve_job
from harness.registry import get_method, get_suite
from harness.verify import as_current, record_diff
from methods.common.sac import SAC, SacBatch, SACConfig, SacHooks, StatsMean, Upstream

SAC_METHODS = ["sac-mt", "sac-oracle", "pearl", "moss", "moss-no-gmm", "moss-no-contrastive", "moss-traj",
               "moss-ps"]
SUITE = get_suite("point-goal")


def config(method: str, *sets: str, profile: str = "smoke"):
    return job_config(get_method(method), SUITE, profile, sets=list(sets))


@pytest.mark.parametrize("method", SAC_METHODS)
def test_one_set_reaches_every_sac_method(method: str) -> None:
    sets = ["alpha=0.1", "gamma=0.95", "tau=0.02", "batch_size=8", "hidden=[24, 24]", "learn_alpha=true",
            "actor_lr=1e-3", "critic_lr=2e-3", "reward_scale=3", "max_grad_norm=2.0"]
    cfg = config(method, *sets)
    assert isinstance(cfg, SACConfig)
    sac = cfg.sac_config()
    assert type(sac) is SACConfig
    assert (sac.alpha, sac.gamma, sac.tau, sac.batch_size, sac.hidden, sac.learn_alpha) == (
        0.1, 0.95, 0.02, 8, (24, 24), True)
    assert (sac.actor_lr, sac.critic_lr, sac.reward_scale, sac.max_grad_norm) == (1e-3, 2e-3, 3.0, 2.0)
    shorthand = config(method, "lr=5e-4", "discount=0.9")
    assert (shorthand.actor_lr, shorthand.critic_lr, shorthand.gamma) == (5e-4, 5e-4, 0.9)


def test_set_alpha_is_in_every_config_yaml(tmp_path) -> None:
    code = main(["run", "--suite", "point-goal", "--method", "moss,pearl,sac-mt", "--profile", "smoke",
                 "--budget", "40", "--eval-every", "40", "--device", "cpu", "--set", "alpha=0.1",
                 "--out", str(tmp_path)])
    assert code == 0
    import yaml

    for method in ("moss", "pearl", "sac-mt"):
        record = yaml.safe_load((tmp_path / "point-goal" / method / "seed=0" / "config.yaml").read_text())
        assert record["config"]["alpha"] == 0.1, method


@pytest.mark.parametrize(("method", "alias", "value", "field", "expected"), [
    ("moss", "sac_alpha", 0.3, "alpha", 0.3),
    ("moss-ps", "sac_learn_alpha", True, "learn_alpha", True),
    ("moss", "batch_size_policy", 32, "batch_size", 32),
    ("moss", "max_grad_norm_policy", None, "max_grad_norm", None),
    ("moss", "policy_lr", 1e-3, "actor_lr", 1e-3),
    ("moss", "policy_lr", 1e-3, "critic_lr", 1e-3),
    ("moss", "sac_layer_size", 48, "hidden", (48, 48)),  # smoke on toy: 2 x 128
    ("moss", "sac_layers", 3, "hidden", (128, 128, 128)),
    ("pearl", "policy_lr", 1e-3, "actor_lr", 1e-3),
    ("pearl", "qf_lr", 2e-3, "critic_lr", 2e-3),
    ("pearl", "soft_target_tau", 0.01, "tau", 0.01),
    ("pearl", "discount", 0.9, "gamma", 0.9),
])
def test_paper_names_are_aliases(method: str, alias: str, value, field: str, expected) -> None:
    cfg = config(method, f"{alias}={json.dumps(value)}")
    assert getattr(cfg, field) == expected
    assert alias not in config_to_dict(cfg)  # config.yaml holds field names only


def test_alias_edge_cases_are_clear_errors() -> None:
    assert config("moss", "sac_layer_size=64", "sac_layers=3").hidden == (64, 64, 64)
    assert config("moss", "sac_layers=3", "sac_layer_size=64").hidden == (64, 64, 64)
    with pytest.raises(ConfigError, match="'alpha' and 'sac_alpha' both set 'alpha'"):
        config("moss", "alpha=0.3", "sac_alpha=0.2")
    with pytest.raises(ConfigError, match=r"unknown config key 'alpah'.*Did you mean 'alpha'.*sac_alpha"):
        config("moss", "alpah=0.3")
    with pytest.raises(ConfigError, match="unknown config key 'sac_alpha'"):
        config("sac-mt", "sac_alpha=0.3")  # a paper name belongs to its method (use moss.sac_alpha)
    assert config("moss", "moss.sac_alpha=0.4").alpha == 0.4
    with pytest.raises(ConfigError, match="sac_layers"):
        config("moss", "sac_layers=0")


def test_list_methods_json_shows_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--methods", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    keys = {"name", "type", "default", "doc", "aliases"}
    for name in [*SAC_METHODS, "varibad", "rl2", "random"]:
        fields = {f["name"]: f for f in rows[name]["fields"]}
        assert fields and all(set(f) == keys for f in fields.values())
        assert all(f["doc"] for f in fields.values()), name  # every built-in field is documented
    moss = {f["name"]: f for f in rows["moss"]["fields"]}
    assert moss["alpha"]["default"] == 0.2 and moss["alpha"]["type"] == "float"
    assert {a["name"] for a in moss["alpha"]["aliases"]} == {"sac_alpha"}
    assert {a["name"] for a in moss["hidden"]["aliases"]} == {"sac_layer_size", "sac_layers"}
    assert moss["hidden"]["default"] == [300, 300, 300]
    pearl = {f["name"]: f for f in rows["pearl"]["fields"]}
    assert {a["name"] for a in pearl["actor_lr"]["aliases"]} == {"policy_lr", "lr"}
    assert "oyster" in pearl["actor_lr"]["doc"]


def _old_moss_config(config: dict) -> dict:
    """A MoSS config as ``config.yaml`` held it before the SAC fields took the common names."""
    old = {k: v for k, v in config.items() if k not in (
        "hidden", "actor_lr", "critic_lr", "alpha", "learn_alpha", "batch_size", "max_grad_norm", "alpha_lr",
        "init_alpha", "target_entropy", "target_update_interval", "log_std_min", "log_std_max")}
    old.update(sac_layer_size=config["hidden"][0], sac_layers=len(config["hidden"]),
               policy_lr=config["actor_lr"], sac_alpha=config["alpha"], sac_learn_alpha=config["learn_alpha"],
               batch_size_policy=config["batch_size"], max_grad_norm_policy=config["max_grad_norm"])
    return old


def test_records_written_before_the_renames_still_match(tmp_path) -> None:
    job = Job(suite="point-goal", method="moss", seed=0, out=str(tmp_path), profile="bench")
    new = resolve_job(job).plain_record
    old = copy.deepcopy(new)
    old["config"] = _old_moss_config(new["config"])
    assert record_diff(old, new)  # the keys differ ...
    assert record_diff(as_current(old, new), new) == []  # ... the run is the same
    old["config"]["sac_alpha"] = 0.5
    assert record_diff(as_current(old, new), new) == ["config", "config.alpha"]


# ------------------------------------------------------------------------------------- the shared step


def _reference_update(sac: SAC, obs, act, rew, nobs, done) -> None:
    """The plain SAC update written out (critic, then actor and temperature in one backward, then targets)."""
    cfg = sac.config
    with torch.no_grad():
        na, nlogp = sac.actor(nobs)
        target = cfg.reward_scale * rew + cfg.gamma * (1 - done) * (
            sac.critic_target(nobs, na).min(0).values - sac.alpha * nlogp)
    q = sac.critic(obs, act)
    c_loss = (q - target).square().mean(dim=1).sum()
    sac.critic_opt.zero_grad()
    c_loss.backward()
    sac.critic_opt.step()
    a, logp = sac.actor(obs)
    sac.critic.requires_grad_(False)
    a_loss = (sac.alpha * logp - sac.critic(obs, a).min(0).values).mean()
    sac.critic.requires_grad_(True)
    al_loss = -(sac.log_alpha * (logp.detach() + sac.target_entropy)).mean()
    sac.actor_opt.zero_grad()
    assert sac.alpha_opt is not None
    sac.alpha_opt.zero_grad()
    (a_loss + al_loss).backward()
    sac.actor_opt.step()
    sac.alpha_opt.step()
    with torch.no_grad():
        for t, p in zip(sac.critic_target.parameters(), sac.critic.parameters(), strict=True):
            t.lerp_(p, cfg.tau)


def _state(sac: SAC) -> list[torch.Tensor]:
    return [*sac.actor.parameters(), *sac.critic.parameters(), *sac.critic_target.parameters(), sac.log_alpha]


def test_step_matches_the_written_out_update_exactly() -> None:
    torch.manual_seed(0)
    a = SAC(3, 2, SACConfig(hidden=(16, 16), reward_scale=2.0))
    b = SAC(3, 2, SACConfig(hidden=(16, 16), reward_scale=2.0))
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    gen = torch.Generator().manual_seed(1)
    mean = StatsMean()
    for i in range(5):
        obs, nobs = torch.randn(32, 3, generator=gen), torch.randn(32, 3, generator=gen)
        act, rew = torch.rand(32, 2, generator=gen) * 2 - 1, torch.randn(32, generator=gen)
        done = (torch.rand(32, generator=gen) < 0.1).float()
        torch.manual_seed(100 + i)
        mean.add(a.step(SacBatch(obs, act, rew, nobs, done)))
        torch.manual_seed(100 + i)
        _reference_update(b, obs, act, rew, nobs, done)
    for x, y in zip(_state(a), _state(b), strict=True):
        assert torch.equal(x, y)
    stats = mean.result()
    assert list(stats) == ["critic_loss", "actor_loss", "q", "entropy", "alpha"] and mean.count == 5


def test_upstream_modules_get_the_gradients_of_their_loss() -> None:
    """An upstream module of the critics is trained by the critic loss (plus its penalty) only, one of the
    actor by the actor loss only, and the actor loss reads the critic features given after the critic step."""
    torch.manual_seed(0)
    sac = SAC(4, 2, SACConfig(hidden=(8,)))
    c_emb, a_emb = torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)
    c_opt, a_opt = torch.optim.SGD(c_emb.parameters(), lr=0.1), torch.optim.SGD(a_emb.parameters(), lr=0.1)
    c0, a0 = copy.deepcopy(c_emb), copy.deepcopy(a_emb)
    obs, nobs = torch.randn(16, 3), torch.randn(16, 3)
    seen = []

    def critic_obs() -> torch.Tensor:
        seen.append(c_emb.weight.detach().clone())
        with torch.no_grad():
            return c_emb(obs)

    with torch.no_grad():
        nxt = c_emb(nobs)
    penalty = c_emb.weight.square().sum()
    sac.step(SacBatch(c_emb(obs), torch.zeros(16, 2), torch.ones(16), nxt, torch.zeros(16),
                      actor_obs=a_emb(obs)),
             SacHooks(critic_upstream=Upstream(c_opt), actor_upstream=Upstream(a_opt),
                      critic_penalty=penalty, actor_critic_obs=critic_obs))
    assert not torch.equal(c_emb.weight, c0.weight) and not torch.equal(a_emb.weight, a0.weight)
    assert torch.equal(seen[0], c_emb.weight)  # read after the critic step
