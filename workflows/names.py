"""Names every part of agentdeck agrees on: the DBOS application, queues, streams, events and
topics. A leaf module (no imports), so anything may import it without an import circle: the
runtime, the queues, the workflows, the data layer and ``agentdeck ls``.
"""

from __future__ import annotations

__all__ = [
    "APPROVAL_EVENT",
    "APPROVAL_STEP",
    "APPROVAL_TOPIC",
    "APP_NAME",
    "LAUNCH_QUEUE",
    "PRESENCE_WORKFLOW",
    "PROGRESS_EVENT",
    "RESEARCH_QUEUE",
    "SETTINGS_EVENT",
    "SETTINGS_STEP",
    "SETTINGS_TOPIC",
    "STREAM_KEY",
]

#: The DBOS application name of every agentdeck runtime.
APP_NAME = "agentdeck"
#: Every launch, resume and fork goes through this queue, which every runtime serves.
LAUNCH_QUEUE = "agentdeck-launch"
#: A research run's questions run here (bounded worker concurrency).
RESEARCH_QUEUE = "agentdeck-research"

#: The stream every agentdeck workflow writes its Claude output to.
STREAM_KEY = "agentdeck.output"
#: Event keys (``DBOS.set_event``) that the dashboard reads.
PROGRESS_EVENT = "agentdeck.progress"
APPROVAL_EVENT = "agentdeck.approval"
#: The step that marks the start of each approval asked (``workflows.approvals.ask``).
APPROVAL_STEP = "approval"
#: The topic a research run's plan approval is answered on (``DBOS.recv``).
APPROVAL_TOPIC = "approve-plan"

#: Topic of the message that carries changed step settings into a fork (``DBOS.recv``).
SETTINGS_TOPIC = "agentdeck.settings"
#: The step that marks each place a fork can change settings (forks with settings start there).
SETTINGS_STEP = "settings"
#: Event key holding the settings a run is using (published whenever they change).
SETTINGS_EVENT = "agentdeck.settings"

#: The workflow that stands for a live executor (``workflows.presence``; heartbeats in its
#: attributes).
PRESENCE_WORKFLOW = "agentdeck.worker"
