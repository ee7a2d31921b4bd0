"""The catalogue's models, moved here from the esims app (the app's old name): each table
keeps its name and its rows (state-only CreateModel with `db_table`); the content types are
renamed so permissions, admin log entries and roles carry over."""

import django.db.models.deletion
from django.db import migrations, models

from ttelgo.migration_ops import content_types_move


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("esims", "0005_catalogue_moves_out"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Bundle',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.CharField(help_text="provider's bundle name", max_length=100, unique=True)),
                        ('provider', models.CharField(default='sandbox', max_length=20)),
                        ('provider_description', models.CharField(blank=True, max_length=300)),
                        ('data_mb', models.PositiveIntegerField(default=0)),
                        ('unlimited', models.BooleanField(default=False)),
                        ('validity_days', models.PositiveIntegerField()),
                        ('cost_amount', models.BigIntegerField(help_text='wholesale, minor units')),
                        ('currency', models.CharField(max_length=3)),
                        ('display_name', models.CharField(blank=True, max_length=120)),
                        ('description', models.TextField(blank=True)),
                        ('hidden', models.BooleanField(default=False)),
                        ('featured', models.BooleanField(default=False)),
                        ('retail_amount', models.BigIntegerField(help_text='minor units; recomputed on sync/reprice')),
                        ('is_active', models.BooleanField(default=True, help_text='false once the provider drops it')),
                        ('first_seen_at', models.DateTimeField(auto_now_add=True)),
                        ('last_synced_at', models.DateTimeField(blank=True, null=True)),
                        ('deactivated_at', models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        'db_table': 'esims_bundle',
                        'ordering': ('code',),
                    },
                ),
                migrations.CreateModel(
                    name='Country',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('iso', models.CharField(help_text='ISO 3166-1 alpha-2', max_length=2, unique=True)),
                        ('name', models.CharField(max_length=100)),
                    ],
                    options={
                        'verbose_name_plural': 'countries',
                        'db_table': 'esims_country',
                        'ordering': ('name',),
                    },
                ),
                migrations.CreateModel(
                    name='Region',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('code', models.SlugField(max_length=40, unique=True)),
                        ('name', models.CharField(max_length=80)),
                    ],
                    options={
                        'db_table': 'esims_region',
                        'ordering': ('name',),
                    },
                ),
                migrations.CreateModel(
                    name='BundlePriceHistory',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('cost_amount', models.BigIntegerField()),
                        ('retail_amount', models.BigIntegerField()),
                        ('currency', models.CharField(max_length=3)),
                        ('reason', models.CharField(max_length=20)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('bundle', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='price_history', to='catalogue.bundle')),
                    ],
                    options={
                        'verbose_name_plural': 'bundle price history',
                        'db_table': 'esims_bundlepricehistory',
                        'ordering': ('-created_at', '-id'),
                    },
                ),
                migrations.AddField(
                    model_name='bundle',
                    name='countries',
                    field=models.ManyToManyField(blank=True, related_name='bundles', to='catalogue.country'),
                ),
                migrations.AddField(
                    model_name='country',
                    name='region',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='countries', to='catalogue.region'),
                ),
                migrations.AddField(
                    model_name='bundle',
                    name='region',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='bundles', to='catalogue.region'),
                ),
                migrations.CreateModel(
                    name='PriceRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(choices=[('global', 'Global'), ('region', 'Region'), ('country', 'Country'), ('bundle', 'Bundle')], max_length=10)),
                        ('markup_bps', models.PositiveIntegerField(help_text='markup over cost (5000 = +50%)')),
                        ('rounding', models.CharField(choices=[('none', 'none'), ('up_99', 'up to .99'), ('up_49_99', 'up to .49 or .99'), ('up_whole', 'up to a whole unit')], default='up_99', max_length=10)),
                        ('min_margin_bps', models.PositiveIntegerField(default=0, help_text="raise the platform's minimum margin for this scope")),
                        ('active', models.BooleanField(default=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('bundle', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='catalogue.bundle')),
                        ('country', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='catalogue.country')),
                        ('region', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, to='catalogue.region')),
                    ],
                    options={
                        'db_table': 'esims_pricerule',
                        'ordering': ('scope', 'id'),
                        'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('bundle__isnull', True), ('country__isnull', True), ('region__isnull', True), ('scope', 'global')), models.Q(('bundle__isnull', True), ('country__isnull', True), ('region__isnull', False), ('scope', 'region')), models.Q(('bundle__isnull', True), ('country__isnull', False), ('region__isnull', True), ('scope', 'country')), models.Q(('bundle__isnull', False), ('country__isnull', True), ('region__isnull', True), ('scope', 'bundle')), _connector='OR'), name='price_rule_target_matches_scope'), models.UniqueConstraint(condition=models.Q(('active', True), ('scope', 'global')), fields=('scope',), name='price_rule_one_global'), models.UniqueConstraint(condition=models.Q(('active', True)), fields=('region',), name='price_rule_one_per_region'), models.UniqueConstraint(condition=models.Q(('active', True)), fields=('country',), name='price_rule_one_per_country'), models.UniqueConstraint(condition=models.Q(('active', True)), fields=('bundle',), name='price_rule_one_per_bundle')],
                    },
                ),
                migrations.AddIndex(
                    model_name='bundle',
                    index=models.Index(fields=['is_active', 'hidden', 'retail_amount'], name='esims_bundl_is_acti_f5925f_idx'),
                ),
                migrations.AddIndex(
                    model_name='bundle',
                    index=models.Index(fields=['is_active', 'hidden', 'data_mb'], name='esims_bundl_is_acti_521641_idx'),
                ),
                migrations.AddConstraint(
                    model_name='bundle',
                    constraint=models.CheckConstraint(condition=models.Q(('retail_amount__gt', models.F('cost_amount'))), name='bundle_retail_above_cost'),
                ),
                migrations.AddConstraint(
                    model_name='bundle',
                    constraint=models.CheckConstraint(condition=models.Q(('cost_amount__gte', 0)), name='bundle_cost_gte_0'),
                ),
            ],
        ),
        content_types_move(
            models=["region", "country", "bundle", "pricerule", "bundlepricehistory"],
            from_app="esims",
            to_app="catalogue",
        ),
    ]
