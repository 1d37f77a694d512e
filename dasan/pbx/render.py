"""Configuration generated from the settings, mounted read-only at /etc/dasan/generated.

Invariant: the static configuration (asterisk-config/, dialplans/) never holds a secret or a
value that lives in the settings; everything that does is rendered here, deterministically, so
rendering twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from dasan.config import LANGUAGES, Settings

KOREAN = "ko"
# Roster skills whose holders take sign-language video calls (asterisk-config/pjsip_video.conf).
VIDEO_SKILLS = ("sign_language", "interp_sign")


def consultant_password(secret: str, consultant_id: str) -> str:
    """Each consultant's SIP password, derived from the directory secret and the id."""
    return hmac.new(secret.encode(), consultant_id.encode(), hashlib.sha256).hexdigest()[:20]


TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
GENERATED_PBX_DIR = "/etc/dasan/generated"


def render_transport(settings: Settings) -> str:
    """UDP always; TLS when pbx.tls_port is set; NAT lines when pbx.external_address is."""
    pbx = settings.pbx
    nat = ""
    if pbx.external_address:
        nat = (
            f"external_media_address = {pbx.external_address}\n"
            f"external_signaling_address = {pbx.external_address}\n"
        )
        nat += "".join(f"local_net = {net}\n" for net in pbx.local_nets)
    out = (
        "[transport-udp]\ntype = transport\nprotocol = udp\n"
        f"bind = {pbx.sip_host}:{pbx.sip_port}\n{nat}"
    )
    if pbx.tls_port is not None:
        out += (
            "\n[transport-tls]\ntype = transport\nprotocol = tls\n"
            f"bind = {pbx.sip_host}:{pbx.tls_port}\n"
            f"cert_file = {GENERATED_PBX_DIR}/{TLS_CERT}\n"
            f"priv_key_file = {GENERATED_PBX_DIR}/{TLS_KEY}\n"
            f"method = tlsv1_2\n{nat}"
        )
    return out


def media_lines(settings: Settings) -> str:
    pbx = settings.pbx
    address = pbx.media_address or pbx.sip_host
    return f"media_address = {address}\nbind_rtp_to_media_address = yes\n"


def render_network(settings: Settings) -> str:
    """Where RTP is bound and announced on the trunks (appended to their sections). The
    consultants get theirs in their own sections (``consultant_network``): lines appended to
    a template with (+) were not copied by the sections using it (measured on Asterisk 22)."""
    return "\n".join(f"[{name}](+)\n{media_lines(settings)}" for name in ("citizens", "outside"))


def consultant_network(settings: Settings) -> str:
    srtp = "media_encryption = sdes\nmedia_encryption_optimistic = no\n"
    return media_lines(settings) + (srtp if settings.pbx.consultant_srtp else "")


def tls_files(settings: Settings) -> dict[str, str]:
    pbx = settings.pbx
    if pbx.tls_cert_file is None or pbx.tls_key_file is None:
        return {}
    return {
        TLS_CERT: pbx.tls_cert_file.read_text(encoding="utf-8"),
        TLS_KEY: pbx.tls_key_file.read_text(encoding="utf-8"),
    }


def render_trunk(settings: Settings) -> str:
    """Citizens are identified by the carrier's addresses only; the benchmarks' endpoint (its
    own context, reachable from one loopback address) only when pbx.bench_source is set."""
    pbx = settings.pbx
    matches = "".join(f"match = {address}\n" for address in pbx.carrier_addresses)
    out = f"[citizens]\ntype = identify\nendpoint = citizens\n{matches}"
    if pbx.bench_source:
        out += (
            "\n[bench]\ntype = endpoint\ncontext = dasan-bench\ndisallow = all\n"
            "allow = ulaw,alaw,gsm\ndtmf_mode = auto_info\ndirect_media = no\n"
            "rtp_symmetric = yes\nmedia_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n"
            "identify_by = ip\n"
            f"\n[bench]\ntype = identify\nendpoint = bench\nmatch = {pbx.bench_source}/32\n"
        )
    return out


def render_consultants(settings: Settings, video_ids: Collection[str] = ()) -> str:
    """Each consultant's endpoint, auth and AOR; those in ``video_ids`` also take video."""
    directory = settings.consultants
    secret = directory.password_secret.get_secret_value()
    network = consultant_network(settings)
    if directory.location_table:
        # Phones register at the cluster's front and are reached through it: the answer comes
        # from the front's address, and rewriting the phone's Contact to it would send the
        # call's in-dialog requests to the front without a user to route them by.
        network += "rewrite_contact = no\n"
    out: list[str] = []
    for cid in directory.ids():
        templates = (
            "consultant-endpoint,consultant-video" if cid in video_ids else "consultant-endpoint"
        )
        out.append(
            f"[{cid}]({templates})\nauth = {cid}\naors = {cid}\ncallerid = {cid} <{cid}>\n"
            + network
        )
        out.append(
            f"[{cid}](consultant-auth)\nusername = {cid}\n"
            f"password = {consultant_password(secret, cid)}\n"
        )
        contact = ""
        if directory.static_contact:
            contact = f"contact = {directory.static_contact.format(id=cid)}\n"
        out.append(f"[{cid}](consultant-aor)\n{contact}")
    return "\n".join(out)


def render_manager_users(settings: Settings) -> str:
    ami = settings.ami
    return f"[{ami.username}](dasan-user)\nsecret = {ami.secret.get_secret_value()}\n"


def render_globals(settings: Settings) -> str:
    values = {
        "AGI_URL": f"agi://{settings.agi.host}:{settings.agi.port}",
        "RECDIR": settings.recordings.pbx_spool_dir,
        "RECSPARE": settings.recordings.pbx_spare_dir,
        "PROMPTS": settings.ivr.prompts_pbx_dir,
        "SPEECHDIR": settings.ivr.speech_pbx_dir,
        "DEFAULT_LANG": settings.ivr.default_language,
    }
    return "".join(f"{name} = {value}\n" for name, value in values.items())


def render_fallback_queues(members_by_language: Mapping[str, Sequence[str]]) -> str:
    """One static queue per language holding the consultants who speak it.

    In the Korean queue, consultants who also speak another language get penalty 1: the
    Korean desk takes them only when every Korean-only consultant is busy, so they stay free
    for the foreign-language callers who can be served by nobody else.
    """
    foreign = {cid for lang, ids in members_by_language.items() if lang != KOREAN for cid in ids}
    out: list[str] = []
    for language in LANGUAGES:
        out.append(f"[fallback-{language}](fallback-template)")
        for cid in members_by_language.get(language, ()):
            penalty = 1 if language == KOREAN and cid in foreign else 0
            out.append(f"member => PJSIP/{cid},{penalty},{cid},PJSIP/{cid}")
        out.append("")
    return "\n".join(out)


def mixing_bridges(settings: Settings, video_ids: Collection[str] = ()) -> bool:
    """Whether two-party calls get a mixing bridge (see PbxSettings.mixing_bridges)."""
    mode = settings.pbx.mixing_bridges
    return mode == "on" or (mode == "auto" and not video_ids)


def render_bridge_modules(settings: Settings, video_ids: Collection[str] = ()) -> str:
    """The bridge technologies Asterisk loads (included by asterisk-config/modules.conf).

    A basic bridge takes the best technology loaded when it is created and keeps it while
    it has two parties: without the 1-to-1 ones (simple, native RTP) it is a softmix bridge,
    whose mixing thread writes every party a frame each interval, silence included, so
    MixMonitor's timeline never skips a stretch where neither party sends audio.
    """
    lines = ["; Generated by Dasan (settings pbx.mixing_bridges); read at Asterisk start."]
    lines += ["load = bridge_softmix.so", "load = bridge_holding.so"]
    if mixing_bridges(settings, video_ids):
        lines.append("; mixing: no 1-to-1 bridge technology, every call's timeline is filled")
    else:
        lines += ["load = bridge_simple.so", "load = bridge_native_rtp.so"]
    return "\n".join(lines) + "\n"


def render_all(
    settings: Settings,
    members_by_language: Mapping[str, Sequence[str]],
    video_ids: Collection[str] = (),
) -> dict[str, str]:
    return {
        "pjsip_transport.conf": render_transport(settings),
        "pjsip_trunk.conf": render_trunk(settings),
        "pjsip_network.conf": render_network(settings),
        "pjsip_consultants.conf": render_consultants(settings, frozenset(video_ids)),
        "manager_users.conf": render_manager_users(settings),
        "globals.conf": render_globals(settings),
        "queues_members.conf": render_fallback_queues(members_by_language),
        "modules_bridges.conf": render_bridge_modules(settings, video_ids),
        **tls_files(settings),
    }


def write_generated(target: Path, files: Mapping[str, str]) -> list[str]:
    """Write files that changed; returns their names (so a reload can be targeted)."""
    target.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in files.items():
        path = target / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            tmp = path.with_suffix(".tmp")
            tmp.touch(mode=0o600)  # secrets (the TLS key) are never readable by others
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
            changed.append(name)
    return changed
