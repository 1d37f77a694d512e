"""Text channels beside the voice path: one conversation model, chat, SMS through Kannel.

Voice calls stay in the call log (``recordings.calllog``); chat and SMS conversations live in
this package's tables, with every message encrypted at rest and, when a conversation ends, its
transcript sealed into the recordings spool and proven in the recordings catalog's chain.
"""
