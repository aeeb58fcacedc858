from django.urls import path

import threadline.web.calendar_views as calendar_views
import threadline.web.duplicates_views as duplicates_views
import threadline.web.privacy_views as privacy_views
from threadline.mail import views as mail_views
from threadline.web import exports, imports_views, party_access, settings_views, views

app_name = "web"

PARTY = "customers/<uuid:public_id>/"
SENDER = "mail/senders/<uuid:public_id>/"

urlpatterns = [
    path("", views.today, name="today"),
    path("customers/", views.customers, name="customers"),
    path("customers/new/", views.party_new, name="party_new"),
    path("customers/pick/", views.party_pick, name="party_pick"),
    path("duplicates/", duplicates_views.duplicates, name="duplicates"),
    path("duplicates/find/", duplicates_views.duplicates_find, name="duplicates_find"),
    path(
        "duplicates/<uuid:public_id>/merge/",
        duplicates_views.duplicate_merge,
        name="duplicate_merge",
    ),
    path(
        "duplicates/<uuid:public_id>/not-duplicates/",
        duplicates_views.duplicate_dismiss,
        name="duplicate_dismiss",
    ),
    path(
        "merges/<uuid:event_id>/undo/", duplicates_views.merge_undo, name="merge_undo"
    ),
    path(PARTY, views.party_detail, name="party"),
    path(PARTY + "edit/", views.party_edit, name="party_edit"),
    path(PARTY + "access/", party_access.party_access, name="party_access"),
    path(PARTY + "data-request/", privacy_views.data_request, name="data_request"),
    path(PARTY + "data-request/export/", privacy_views.data_export, name="data_export"),
    path(PARTY + "log/", views.log_event, name="log_event"),
    path(PARTY + "calendar.ics", calendar_views.party_calendar, name="party_calendar"),
    path(
        "calendar/<str:token>.ics", calendar_views.calendar_feed, name="calendar_feed"
    ),
    path("settings/calendar/", settings_views.calendar_feed, name="settings_calendar"),
    path(PARTY + "contact-points/", views.contact_point_add, name="point_add"),
    path(
        PARTY + "contact-points/<uuid:point_id>/remove/",
        views.contact_point_remove,
        name="point_remove",
    ),
    path(PARTY + "relationships/", views.relationship_add, name="link_add"),
    path(
        PARTY + "relationships/<uuid:relationship_id>/end/",
        views.relationship_end,
        name="link_end",
    ),
    path(PARTY + "facts/", views.fact_pin, name="fact_pin"),
    path(PARTY + "facts/<uuid:fact_id>/unpin/", views.fact_unpin, name="fact_unpin"),
    path(PARTY + "events/<uuid:event_id>/", views.event_tools, name="event"),
    path(
        PARTY + "events/<uuid:event_id>/correct/",
        views.event_correct,
        name="event_correct",
    ),
    path(
        PARTY + "events/<uuid:event_id>/redact/",
        views.event_redact,
        name="event_redact",
    ),
    path(
        "follow-ups/<uuid:follow_up_id>/done/",
        views.follow_up_finish,
        name="follow_up_finish",
    ),
    path(
        "follow-ups/<uuid:follow_up_id>/reschedule/",
        views.follow_up_reschedule,
        name="follow_up_reschedule",
    ),
    path("imports/", imports_views.imports, name="imports"),
    path(
        "imports/check/<str:upload_id>/",
        imports_views.import_check,
        name="import_check",
    ),
    path(
        "imports/check/<str:upload_id>/start/",
        imports_views.import_start,
        name="import_start",
    ),
    path(
        "imports/check/<str:upload_id>/discard/",
        imports_views.import_discard,
        name="import_discard",
    ),
    path("imports/<uuid:public_id>/", imports_views.import_run, name="import_run"),
    path(
        "imports/<uuid:public_id>/undo/", imports_views.import_undo, name="import_undo"
    ),
    path(
        "imports/<uuid:public_id>/restore/",
        imports_views.import_restore,
        name="import_restore",
    ),
    path(
        "imports/<uuid:public_id>/again/",
        imports_views.import_again,
        name="import_again",
    ),
    path("settings/", settings_views.settings_home, name="settings"),
    path("settings/users/", settings_views.users, name="settings_users"),
    path(
        "settings/users/<uuid:public_id>/",
        settings_views.user_detail,
        name="settings_user",
    ),
    path(
        "settings/users/<uuid:public_id>/role/",
        settings_views.user_role,
        name="settings_user_role",
    ),
    path(
        "settings/users/<uuid:public_id>/deactivate/",
        settings_views.user_deactivate,
        name="settings_user_deactivate",
    ),
    path("settings/mailboxes/", mail_views.mailboxes, name="settings_mailboxes"),
    path("mail/senders/", mail_views.senders, name="mail_senders"),
    path(SENDER, mail_views.sender_detail, name="mail_sender"),
    path(SENDER + "new/", mail_views.sender_add_new, name="mail_sender_new"),
    path(
        SENDER + "existing/",
        mail_views.sender_add_existing,
        name="mail_sender_existing",
    ),
    path(SENDER + "ignore/", mail_views.sender_ignore, name="mail_sender_ignore"),
    path("settings/teams/", settings_views.teams, name="settings_teams"),
    path(
        "settings/teams/<uuid:public_id>/",
        settings_views.team_detail,
        name="settings_team",
    ),
    path("customers/export/<str:fmt>/", exports.customers_export, name="export"),
    path(PARTY + "vcard/", exports.party_vcard, name="party_vcard"),
    path(
        PARTY + "timeline/<str:fmt>/", exports.timeline_export, name="export_timeline"
    ),
    path("today/<str:list_name>/<str:fmt>/", exports.today_export, name="export_today"),
    path("imports/export/<str:fmt>/", exports.imports_export, name="export_imports"),
    path(
        "imports/<uuid:public_id>/problems/<str:fmt>/",
        exports.import_problems_export,
        name="export_import_problems",
    ),
    path(
        "duplicates/export/<str:fmt>/",
        exports.duplicates_export,
        name="export_duplicates",
    ),
    path(
        "mail/senders/export/<str:fmt>/",
        exports.senders_export,
        name="export_senders",
    ),
    path("settings/users/export/<str:fmt>/", exports.users_export, name="export_users"),
    path("settings/teams/export/<str:fmt>/", exports.teams_export, name="export_teams"),
    path(
        "settings/mailboxes/export/<str:fmt>/",
        exports.mailboxes_export,
        name="export_mailboxes",
    ),
]
