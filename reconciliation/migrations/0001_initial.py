"""Reconciliation runs and findings, moved here from the ledger app. The tables keep
their names and their rows (state-only CreateModel); the content types are renamed so
permissions and groups that name them carry over."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move

MODELS = ("reconciliationrun", "reconciliationfinding")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("ledger", "0005_reconciliation_moves_out"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ReconciliationRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('running', 'Running'), ('completed', 'Completed'), ('failed', 'Failed')], default='running', max_length=16)),
                        ('trigger', models.CharField(default='schedule', help_text='schedule | operator', max_length=16)),
                        ('window_start', models.DateTimeField(help_text='Stripe and provider records since then')),
                        ('started_at', models.DateTimeField(auto_now_add=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('findings_count', models.PositiveIntegerField(default=0)),
                        ('summary', models.JSONField(blank=True, default=dict, help_text='findings per check')),
                        ('error', models.TextField(blank=True)),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'ledger_reconciliationrun',
                        'ordering': ('-started_at', '-id'),
                    },
                ),
                migrations.CreateModel(
                    name='ReconciliationFinding',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('category', models.CharField(choices=[('ledger', 'Ledger'), ('payments', 'Stripe vs payments'), ('provider', 'Provider vs eSIMs'), ('stuck', 'Stuck orders')], max_length=16)),
                        ('code', models.CharField(max_length=64)),
                        ('message', models.TextField()),
                        ('object_type', models.CharField(blank=True, max_length=32)),
                        ('object_id', models.CharField(blank=True, max_length=255)),
                        ('order_id', models.BigIntegerField(blank=True, null=True)),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('fix', models.CharField(choices=[('redrive', 'Re-drive provisioning'), ('refund', 'Refund the payment'), ('sync', 'Re-read the payment from Stripe'), ('resolve', 'Mark resolved with a note')], default='resolve', max_length=16)),
                        ('status', models.CharField(choices=[('open', 'Open'), ('resolved', 'Resolved')], default='open', max_length=16)),
                        ('resolution', models.TextField(blank=True, help_text='what was done, and why')),
                        ('resolved_at', models.DateTimeField(blank=True, null=True)),
                        ('resolved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='reconciliation.reconciliationrun')),
                    ],
                    options={
                        'db_table': 'ledger_reconciliationfinding',
                        'ordering': ('run', 'category', 'id'),
                        'indexes': [models.Index(fields=['status', 'category'], name='recon_finding_status')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('status', 'open'), models.Q(('resolution', ''), _negated=True), _connector='OR'), name='recon_finding_resolved_has_note')],
                    },
                ),
            ],
        ),
        content_types_move(models=MODELS, from_app="ledger", to_app="reconciliation"),
    ]
