"""Invoices and their lines, moved here from the ledger app: the tables keep their names
and rows (state-only CreateModel); the content types are renamed so permissions carry
over."""

import django.db.models.deletion
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move

MODELS = ("invoice", "invoiceline")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('ledger', '0006_invoices_move_to_billing'),
        ('vendors', '0003_vendor_low_balance_alerted_at'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Invoice',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('period_start', models.DateField()),
                        ('period_end', models.DateField(help_text='last day of the period (inclusive)')),
                        ('currency', models.CharField(max_length=3)),
                        ('total', models.BigIntegerField(help_text='net charges of the period, minor units')),
                        ('opening_balance', models.BigIntegerField(help_text='receivable balance at period start')),
                        ('closing_balance', models.BigIntegerField(help_text='receivable balance at period end')),
                        ('paid_amount', models.BigIntegerField(default=0)),
                        ('status', models.CharField(choices=[('issued', 'Issued'), ('overdue', 'Overdue'), ('paid', 'Paid')], default='issued', max_length=16)),
                        ('issued_at', models.DateTimeField(auto_now_add=True)),
                        ('due_date', models.DateField()),
                        ('paid_at', models.DateTimeField(blank=True, null=True)),
                        ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='invoices', to='ledger.account')),
                        ('vendor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='invoices', to='vendors.vendor')),
                    ],
                    options={
                        'db_table': 'ledger_invoice',
                        'ordering': ('-period_start', 'vendor_id'),
                    },
                ),
                migrations.CreateModel(
                    name='InvoiceLine',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('kind', models.CharField(max_length=32)),
                        ('bundle_code', models.CharField(blank=True, max_length=100)),
                        ('quantity', models.PositiveIntegerField()),
                        ('amount', models.BigIntegerField(help_text='minor units; refunds and credits negative')),
                        ('description', models.CharField(max_length=255)),
                        ('invoice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='billing.invoice')),
                    ],
                    options={
                        'db_table': 'ledger_invoiceline',
                        'ordering': ('day', 'kind', 'bundle_code'),
                    },
                ),
                migrations.AddConstraint(
                    model_name='invoice',
                    constraint=models.UniqueConstraint(fields=('vendor', 'period_start'), name='ledger_invoice_one_per_vendor_period'),
                ),
                migrations.AddConstraint(
                    model_name='invoice',
                    constraint=models.CheckConstraint(condition=models.Q(('paid_amount__gte', 0)), name='ledger_invoice_paid_gte_0'),
                ),
            ],
        ),
        content_types_move(models=MODELS, from_app="ledger", to_app="billing"),
    ]
