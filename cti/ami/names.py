"""AMI header, event and action names as Asterisk 22 spells them: the one place to look them up.

Invariants:
- Header lookups are case-insensitive (see ``Headers``); these constants keep Asterisk's
  spelling so that what we send is byte-identical to what Asterisk documents.
- Channel snapshot headers carry a prefix when an event describes two channels
  (``Dest`` in DialBegin/DialEnd); use ``prefixed(DEST, UNIQUEID)``.
"""

from __future__ import annotations

from typing import Final

# --- framing -----------------------------------------------------------------------------
BANNER_PREFIX: Final = "Asterisk Call Manager/"
END_COMMAND: Final = "--END COMMAND--"

# --- message-level headers ---------------------------------------------------------------
ACTION: Final = "Action"
ACTION_ID: Final = "ActionID"
RESPONSE: Final = "Response"
EVENT: Final = "Event"
MESSAGE: Final = "Message"
EVENT_LIST: Final = "EventList"
LIST_ITEMS: Final = "ListItems"
OUTPUT: Final = "Output"
PRIVILEGE: Final = "Privilege"
TIMESTAMP: Final = "Timestamp"

# Response values
RESPONSE_SUCCESS: Final = "Success"
RESPONSE_ERROR: Final = "Error"
RESPONSE_FOLLOWS: Final = "Follows"
RESPONSE_GOODBYE: Final = "Goodbye"
EVENT_LIST_START: Final = "start"
EVENT_LIST_COMPLETE: Final = "Complete"

# --- actions -----------------------------------------------------------------------------
LOGIN: Final = "Login"
LOGOFF: Final = "Logoff"
PING: Final = "Ping"
COMMAND: Final = "Command"
CORE_SHOW_CHANNELS: Final = "CoreShowChannels"
BRIDGE_LIST: Final = "BridgeList"
BRIDGE_INFO: Final = "BridgeInfo"
PJSIP_SHOW_CONTACTS: Final = "PJSIPShowContacts"
DEVICE_STATE_LIST: Final = "DeviceStateList"
QUEUE_STATUS: Final = "QueueStatus"
# Login headers
USERNAME: Final = "Username"
SECRET: Final = "Secret"  # noqa: S105 - the header name, not a password
EVENTS: Final = "Events"

# --- events ------------------------------------------------------------------------------
FULLY_BOOTED: Final = "FullyBooted"
SHUTDOWN: Final = "Shutdown"
NEWCHANNEL: Final = "Newchannel"
NEWSTATE: Final = "Newstate"
NEWEXTEN: Final = "Newexten"
NEW_CALLERID: Final = "NewCallerid"
NEW_CONNECTED_LINE: Final = "NewConnectedLine"
NEW_ACCOUNT_CODE: Final = "NewAccountCode"
VAR_SET: Final = "VarSet"
HANGUP: Final = "Hangup"
HANGUP_REQUEST: Final = "HangupRequest"
DIAL_BEGIN: Final = "DialBegin"
DIAL_STATE: Final = "DialState"
DIAL_END: Final = "DialEnd"
BRIDGE_CREATE: Final = "BridgeCreate"
BRIDGE_DESTROY: Final = "BridgeDestroy"
BRIDGE_ENTER: Final = "BridgeEnter"
BRIDGE_LEAVE: Final = "BridgeLeave"
BRIDGE_MERGE: Final = "BridgeMerge"
BRIDGE_LIST_ITEM: Final = "BridgeListItem"
BRIDGE_LIST_COMPLETE: Final = "BridgeListComplete"
MIX_MONITOR_START: Final = "MixMonitorStart"
MIX_MONITOR_STOP: Final = "MixMonitorStop"
CORE_SHOW_CHANNEL: Final = "CoreShowChannel"
CORE_SHOW_CHANNELS_COMPLETE: Final = "CoreShowChannelsComplete"
CONTACT_STATUS: Final = "ContactStatus"
CONTACT_LIST: Final = "ContactList"
DEVICE_STATE_CHANGE: Final = "DeviceStateChange"
PEER_STATUS: Final = "PeerStatus"

# --- channel snapshot headers ------------------------------------------------------------
DEST: Final = "Dest"
CHANNEL: Final = "Channel"
CHANNEL_STATE: Final = "ChannelState"
CHANNEL_STATE_DESC: Final = "ChannelStateDesc"
CALLER_ID_NUM: Final = "CallerIDNum"
CALLER_ID_NAME: Final = "CallerIDName"
CONNECTED_LINE_NUM: Final = "ConnectedLineNum"
CONNECTED_LINE_NAME: Final = "ConnectedLineName"
LANGUAGE: Final = "Language"
ACCOUNT_CODE: Final = "AccountCode"
CONTEXT: Final = "Context"
EXTEN: Final = "Exten"
PRIORITY: Final = "Priority"
UNIQUEID: Final = "Uniqueid"
LINKEDID: Final = "Linkedid"
# event-specific channel headers
APPLICATION: Final = "Application"
APPLICATION_DATA: Final = "ApplicationData"
APP_DATA: Final = "AppData"
DURATION: Final = "Duration"
BRIDGE_ID: Final = "BridgeId"
CAUSE: Final = "Cause"
CAUSE_TXT: Final = "Cause-txt"
DIAL_STRING: Final = "DialString"
DIAL_STATUS: Final = "DialStatus"
CHAN_VARIABLE: Final = "ChanVariable"
VARIABLE: Final = "Variable"
VALUE: Final = "Value"

# --- bridge snapshot headers -------------------------------------------------------------
TO: Final = "To"
FROM: Final = "From"
BRIDGE_UNIQUEID: Final = "BridgeUniqueid"
BRIDGE_TYPE: Final = "BridgeType"
BRIDGE_TECHNOLOGY: Final = "BridgeTechnology"
BRIDGE_CREATOR: Final = "BridgeCreator"
BRIDGE_NAME: Final = "BridgeName"
BRIDGE_NUM_CHANNELS: Final = "BridgeNumChannels"

# --- endpoint headers --------------------------------------------------------------------
DEVICE: Final = "Device"
STATE: Final = "State"
URI: Final = "URI"
AOR: Final = "AOR"
ENDPOINT_NAME: Final = "EndpointName"
CONTACT_STATUS_HEADER: Final = "ContactStatus"
ENDPOINT: Final = "Endpoint"
STATUS: Final = "Status"
CHANNEL_TYPE: Final = "ChannelType"
PEER: Final = "Peer"
PEER_STATUS_HEADER: Final = "PeerStatus"


def prefixed(prefix: str, header: str) -> str:
    """``prefixed("Dest", "Uniqueid") == "DestUniqueid"`` (Asterisk's multi-channel events)."""
    return f"{prefix}{header}"
