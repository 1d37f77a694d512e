"""Kamailio's configuration for the cluster front (pure text rendering, no I/O).

What the front does:
- Every new INVITE (a citizen call, e.g. to 120) goes to one healthy PBX node chosen round
  robin by the dispatcher module (set 1); Kamailio stays in the signalling path
  (record-route), so the BYE of a call goes to the node that has the call.
- Every node is probed with OPTIONS each ``ping_interval_s``; a node that does not answer in
  ``probe_timeout_ms`` is marked inactive and gets no new call until it answers again.
- An INVITE that a node does not answer (timeout, or a 5xx) is tried on the next node, and
  that node is marked down at once: a call arriving in the seconds between a crash and the
  next probe is not lost.
- Media does not pass through Kamailio: RTP flows between the phones and the node.
- With a registrar (``--consultants registered``): consultants' phones REGISTER here (digest,
  realm ``dasan``, credentials from ``auth_db``; contacts kept by ``usrloc`` in PostgreSQL
  only, db_mode 3, so every process and the engines see the same registrations). An INVITE
  coming from a node is for a consultant: looked up in the location table and relayed to
  the phone, whichever node placed it.
- An in-dialog request without a usable Route header (a phone that ignores Record-Route
  sends its BYE to the last hop with the node's Contact as R-URI) is relayed by its R-URI
  when that is one of the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

from dasan.cluster.topology import SIP_PORT, Topology

DISPATCHER_SET = 1
# Round robin over the active destinations (dispatcher algorithm 4).
ROUND_ROBIN = 4
# Replies that prove a node's SIP stack alive (Asterisk without res_pjsip_options answers an
# out-of-dialog OPTIONS with 501); never 408 or 477, which Kamailio makes up itself when the
# node is silent or unreachable.
PROBE_OK_CODES = "class=2;code=401;code=403;code=404;code=405;code=501"
MODULES = (
    "tm",
    "tmx",
    "sl",
    "rr",
    "pv",
    "maxfwd",
    "textops",
    "siputils",
    "xlog",
    "sanity",
    "ctl",
    "kex",
    "corex",
    "dispatcher",
)


REGISTRAR_MODULES = ("db_postgres", "usrloc", "registrar", "auth", "auth_db")


@dataclass(frozen=True)
class RegistrarCfg:
    """Kamailio as the consultants' registrar (tables made by dasan.cluster.registrar)."""

    db_url: str
    realm: str = "dasan"
    location_table: str = "kamailio.location"
    subscriber_table: str = "kamailio.subscriber"
    version_table: str = "kamailio.version"
    max_expires_s: int = 3600


@dataclass(frozen=True)
class FrontTimers:
    ping_interval_s: int = 1
    probe_timeout_ms: int = 1500
    # How long an INVITE waits for any answer from a node before the next node is tried.
    invite_timeout_ms: int = 1500


def dispatcher_list(topology: Topology) -> str:
    """The destinations file: one line per node, set 1, probed (flag 8)."""
    lines = ["# set destination flags priority attrs (written by dasan cluster up)"]
    for node in topology.nodes:
        lines.append(
            f"{DISPATCHER_SET} sip:{node.address}:{SIP_PORT} 8 0 duid={node.name};node={node.name}"
        )
    return "\n".join(lines) + "\n"


def render_cfg(
    topology: Topology,
    modules_dir: str,
    list_file: str,
    ctl_socket: str,
    timers: FrontTimers | None = None,
    *,
    registrar: RegistrarCfg | None = None,
) -> str:
    timers = timers or FrontTimers()
    modules = MODULES + (REGISTRAR_MODULES if registrar else ())
    loads = "\n".join(f'loadmodule "{name}.so"' for name in modules)
    reg = registrar
    version_line = f'version_table="{reg.version_table}"\n' if reg else ""
    reg_params = ""
    register_step = ""
    consultant_step = ""
    reg_routes = ""
    if reg:
        reg_params = f"""
modparam("usrloc", "db_url", "{reg.db_url}")
modparam("usrloc", "db_mode", 3)
modparam("usrloc", "timer_interval", 10)
modparam("registrar", "max_expires", {reg.max_expires_s})
modparam("auth_db", "db_url", "{reg.db_url}")
modparam("auth_db", "calculate_ha1", 0)
modparam("auth_db", "password_column", "ha1")
modparam("auth_db", "use_domain", 0)
"""
        register_step = """    if (is_method("REGISTER")) {
        route(REGISTRAR);
        exit;
    }
"""
        consultant_step = f"""    if (ds_is_from_list("{DISPATCHER_SET}")) {{
        route(TOCONSULTANT);
        exit;
    }}
"""
        reg_routes = f"""
route[REGISTRAR] {{
    # flag 1: the To user must be the one who authenticates (nobody registers as another).
    if (!auth_check("{reg.realm}", "{reg.subscriber_table}", "1")) {{
        xlog("L_INFO", "REGISTER $tU from $si: challenged\\n");
        auth_challenge("{reg.realm}", "0");
        exit;
    }}
    consume_credentials();
    if (!save("{reg.location_table}")) {{
        sl_reply_error();
    }}
    exit;
}}

route[TOCONSULTANT] {{
    if (!lookup("{reg.location_table}")) {{
        xlog("L_INFO", "call $ci from $si to $rU: not registered\\n");
        sl_send_reply("480", "Not Registered");
        exit;
    }}
    xlog("L_INFO", "call $ci to consultant $rU -> $ru\\n");
    if (!t_relay()) {{
        sl_reply_error();
    }}
}}
"""
    return f"""#!KAMAILIO
# Dasan cluster front (written by dasan cluster up; edit the generator, not this file).
debug=2
log_stderror=yes
memdbg=5
memlog=5
children=2
auto_aliases=no
listen=udp:{topology.kamailio_address}:{SIP_PORT}
alias="{topology.kamailio_address}:{SIP_PORT}"
{version_line}mpath="{modules_dir}"
{loads}

modparam("ctl", "binrpc", "unix:{ctl_socket}")
modparam("tm", "fr_timer", {timers.invite_timeout_ms})
modparam("tm", "fr_inv_timer", 60000)
modparam("rr", "enable_full_lr", 1)
modparam("dispatcher", "list_file", "{list_file}")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:front@{topology.kamailio_address}")
modparam("dispatcher", "ds_ping_interval", {timers.ping_interval_s})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "{PROBE_OK_CODES}")
{reg_params}
request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check()) {{
        exit;
    }}
    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    t_check_trans();
{register_step}    if (!is_method("INVITE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
{consultant_step}    route(TONODE);
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        t_relay();
        exit;
    }}
    if (is_method("ACK") && t_check_trans()) {{
        t_relay();
        exit;
    }}
    if (uri != myself && ds_is_from_list("{DISPATCHER_SET}", "0", "$ru")) {{
        xlog("L_INFO", "in-dialog $rm $ci without route set -> node $ru\\n");
        t_relay();
        exit;
    }}
    sl_send_reply("404", "Not Here");
}}

route[TONODE] {{
    if (!ds_select_dst("{DISPATCHER_SET}", "{ROUND_ROBIN}")) {{
        xlog("L_WARN", "no healthy PBX node for $rU from $si\\n");
        sl_send_reply("503", "No PBX Node Available");
        exit;
    }}
    xlog("L_INFO", "call $ci to $rU -> $du\\n");
    t_on_failure("NODEFAILED");
    if (!t_relay()) {{
        sl_reply_error();
    }}
}}

failure_route[NODEFAILED] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_check_status("408|5[0-9][0-9]") || (t_branch_timeout() && !t_branch_replied())) {{
        xlog("L_WARN", "node $du failed call $ci ($T_reply_code); trying the next\\n");
        ds_mark_dst("ip");
        if (ds_next_dst()) {{
            t_on_failure("NODEFAILED");
            t_relay();
            exit;
        }}
        t_reply("503", "No PBX Node Available");
    }}
}}
{reg_routes}"""
