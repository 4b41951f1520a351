"""Channels: webhook, email (SMTP), SMS (provider adapters), WeCom and DingTalk group robots.

Every channel implements :class:`notifier.channels.base.Channel`: it sends one
:class:`~notifier.channels.base.Outbound` and says what happened in an
:class:`~notifier.channels.base.Attempt`; the dispatcher decides about retries.
"""
