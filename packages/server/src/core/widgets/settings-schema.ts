/**
 * The one settings object of a chat widget (= web-chat channel), as JSON Schema.
 *
 * It holds every field of LeadConnector's WidgetSettingsDTO (and the extra ones its SDK knows), so
 * a LeadConnector client round-trips its settings unchanged, plus Charla's own live-chat fields
 * (allowed domains, pre-chat fields, operating hours, offline behaviour, departments, proactive
 * triggers, identity), which the web-chat channel API manages under the same names.
 * Unknown properties are refused rather than silently stored or dropped.
 */

type Schema = Record<string, unknown>;

const str = (maxLength = 500): Schema => ({ type: 'string', maxLength });
const text = str(2000);
const bool: Schema = { type: 'boolean' };
const url: Schema = { type: 'string', maxLength: 2048 };
/** Hex (#rgb to #rrggbbaa) or a CSS rgb()/hsl() function; the widget only ever sets it as a CSS variable. */
const color: Schema = {
  type: 'string',
  maxLength: 64,
  pattern: '^(#[0-9a-fA-F]{3,8}|(rgb|rgba|hsl|hsla)\\([0-9a-z.,%\\s/+-]+\\))$',
};
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...(required.length ? { required } : {}),
});
const arr = (items: Schema, maxItems = 50): Schema => ({ type: 'array', items, maxItems });
const id: Schema = { type: 'string', minLength: 1, maxLength: 40, pattern: '^[A-Za-z0-9_-]+$' };

export const CHAT_TYPES = [
  'liveChat',
  'waChat',
  'emailChat',
  'allInOneChat',
  'voiceAiChat',
  'facebookChat',
  'instagramChat',
] as const;
export type ChatType = (typeof CHAT_TYPES)[number];

/** `webChat` is not a stored type: it names the messaging-app widget types together. */
export const WEB_CHAT_UMBRELLA: readonly ChatType[] = [
  'facebookChat',
  'emailChat',
  'instagramChat',
  'waChat',
];
export const CHAT_TYPE_FILTERS = [...CHAT_TYPES, 'webChat'] as const;

/** Text in several languages: `{"en": "Name", "es": "Nombre"}`, or one plain string for all. */
export const localizedText: Schema = {
  oneOf: [
    str(500),
    {
      type: 'object',
      minProperties: 1,
      maxProperties: 30,
      propertyNames: { pattern: '^[a-z]{2,3}(-[A-Za-z]{2,4})?$' },
      additionalProperties: str(500),
    },
  ],
};

const time: Schema = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$' };
const interval = obj({ open: time, close: time }, ['open', 'close']);
const dayHours = arr(interval, 6);
export const WEEKDAYS = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
] as const;

/** Opening hours: intervals per weekday in a time zone, with dated exceptions (holidays). */
export const operatingHoursSchema = obj(
  {
    enabled: bool,
    timezone: str(64),
    days: obj(Object.fromEntries(WEEKDAYS.map((d) => [d, dayHours]))),
    holidays: arr(
      obj(
        {
          date: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
          name: str(200),
          /** Empty or absent: closed all day. */
          hours: dayHours,
        },
        ['date'],
      ),
      366,
    ),
  },
  ['timezone'],
);

export const OFFLINE_ACTIONS = ['HIDE_LAUNCHER', 'OFFLINE_FORM', 'MESSAGE_ALLOW'] as const;

/** What the widget does outside operating hours or when no agent is online. */
const offlineActionSchema = obj(
  {
    type: { enum: OFFLINE_ACTIONS },
    /** MESSAGE_ALLOW: ask for an email so the reply can reach the visitor. */
    collectEmail: bool,
    /** OFFLINE_FORM: the pre-chat field ids the form asks for (all of them when absent). */
    formFieldIds: arr(id),
  },
  ['type'],
);

export const PRECHAT_FIELD_TYPES = ['text', 'email', 'phone', 'select', 'checkbox', 'textarea'] as const;

const prechatFieldSchema = obj(
  {
    id,
    type: { enum: PRECHAT_FIELD_TYPES },
    label: localizedText,
    placeholder: localizedText,
    required: bool,
    options: arr(obj({ value: str(200), label: localizedText }, ['value']), 100),
    /**
     * Checked in the browser and again on the server: must compile as a JavaScript RegExp and stay
     * linear (no nested unbounded quantifiers, no backreferences); see settings-rules.
     */
    regex: str(500),
    maxLength: { type: 'integer', minimum: 1, maximum: 10000 },
  },
  ['id', 'type', 'label'],
);

const departmentSchema = obj(
  {
    id,
    name: str(200),
    /** User ids of the agents who answer for this department. */
    agents: arr({ type: 'string', format: 'uuid' }, 500),
    /** The department's own hours; the channel's apply when absent. */
    operatingHours: operatingHoursSchema,
  },
  ['id', 'name'],
);

const patternMatch = { match: { enum: ['glob', 'regex'] }, pattern: str(500) };
const conditionBranches: Schema[] = [
  obj({ type: { const: 'url' }, ...patternMatch }, ['type', 'match', 'pattern']),
  obj({ type: { const: 'referrer' }, ...patternMatch }, ['type', 'match', 'pattern']),
  obj({ type: { const: 'time_on_page' }, seconds: { type: 'integer', minimum: 0, maximum: 86400 } }, [
    'type',
    'seconds',
  ]),
  obj({ type: { const: 'page_views' }, min: { type: 'integer', minimum: 1, maximum: 10000 } }, [
    'type',
    'min',
  ]),
  obj({ type: { const: 'device' }, device: { enum: ['mobile', 'tablet', 'desktop'] } }, ['type', 'device']),
  obj({ type: { const: 'returning_visitor' }, value: bool }, ['type', 'value']),
  obj(
    {
      type: { const: 'attribute' },
      key: str(100),
      operator: { enum: ['eq', 'neq', 'contains', 'exists', 'gt', 'lt'] },
      value: { type: ['string', 'number', 'boolean'], maxLength: 500 },
    },
    ['type', 'key', 'operator'],
  ),
];

/** A group nests conditions once: (a AND b) OR c is expressible, deeper trees are not needed. */
const leafCondition: Schema = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: conditionBranches,
};
const groupCondition = obj(
  { type: { const: 'group' }, match: { enum: ['all', 'any'] }, conditions: arr(leafCondition, 20) },
  ['type', 'match', 'conditions'],
);
const condition: Schema = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  oneOf: [...conditionBranches, groupCondition],
};

const proactiveTriggerSchema = obj(
  {
    id,
    name: str(200),
    enabled: bool,
    match: { enum: ['all', 'any'] },
    conditions: arr(condition, 20),
    action: obj({ type: { enum: ['open', 'message'] }, message: localizedText }, ['type']),
    frequency: obj({
      /** Times one visitor may see it at all. */
      maxPerVisitor: { type: 'integer', minimum: 1, maximum: 1000 },
      /** Shown at most once per browser session. */
      oncePerSession: bool,
      /** Minimum gap between two showings to one visitor. */
      cooldownMinutes: { type: 'integer', minimum: 0, maximum: 525600 },
    }),
  },
  ['id', 'match', 'conditions', 'action'],
);

/** An allowed host: `example.com`, `*.example.com`, or `localhost:8080`. */
const domain: Schema = {
  type: 'string',
  maxLength: 253,
  pattern:
    '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$',
};

const themeColors = obj({
  chatBubbleColor: color,
  backgroundColor: color,
  headerColor: color,
  buttonColor: color,
  avatarBackgroundColor: color,
  avatarBorderColor: color,
  senderMessageColor: color,
  receivedMessageColor: color,
});

const advanceSettings = obj({
  brandingTitle: str(200),
  redirect: obj({ redirectAction: bool, redirectWebsite: url, redirectText: str(200) }),
  enableContactForm: bool,
  defaultConsentCheck: bool,
  businessOfficeHours: obj({
    enableBusinessHours: bool,
    openHours: arr(
      {
        oneOf: [
          str(200),
          obj({ day: str(20), openHour: time, closeHour: time }),
          obj({ daysOfTheWeek: arr(str(20), 7), hours: arr(str(20), 20) }),
        ],
      },
      50,
    ),
    timezone: str(64),
    outsideOfficeHoursWelcomeMsg: text,
  }),
  contactFormOptions: arr(
    obj({
      id: str(100),
      label: str(200),
      value: str(200),
      dataType: str(100),
      placeholder: str(200),
      fieldKey: str(200),
      required: bool,
      disabled: bool,
      picklistOptions: arr(str(200), 200),
    }),
  ),
  allInOneChatTypes: arr({ enum: CHAT_TYPE_FILTERS }, 10),
  allInOneInitialMsg: text,
  contactFormIntroMessage: text,
  contactFormSystemMessage: text,
  prefilledMessageText: text,
  voiceAiAgent: { type: 'object', maxProperties: 50 },
  voiceAiSendActionText: str(200),
  voiceAiDisplayMode: str(100),
  voiceAiAnimationType: str(100),
  voiceAiAnimationColor: color,
  fbPage: obj({ facebookPageId: str(100), facebookPageName: str(200) }),
  instagramPage: obj({
    facebookPageId: str(100),
    facebookPageName: str(200),
    instagramPageId: str(100),
    instagramUsername: str(200),
  }),
  playNotificationSound: bool,
  allowVoiceNotes: bool,
  allowAttachments: bool,
  addSupportingText: bool,
  supportingText: text,
  aTwoPCompliance: obj({
    enableA2PCompliance: bool,
    isA2POptInForm1: bool,
    a2pOptInForm1: text,
    a2pOptInForm1ShowCheckbox: bool,
    a2pOptInForm1PreChecked: bool,
    isA2POptInForm2: bool,
    a2pOptInForm2: text,
    a2pOptInForm2ShowCheckbox: bool,
    a2pOptInForm2PreChecked: bool,
    privacyPolicyLink: url,
    termsOfServiceLink: url,
    messageType: str(100),
    marketingComplianceMessage: text,
    a2pComplianceMessage: text,
  }),
});

/** Any top-level setting may be null: "not set" (on a partial update, "remove it"). */
const nullable = (properties: Record<string, Schema>): Schema => {
  const schema = obj(properties) as { properties: Record<string, Schema> };
  for (const [k, v] of Object.entries(schema.properties))
    schema.properties[k] = { anyOf: [v, { type: 'null' }] };
  return schema;
};

export const widgetSettingsSchema: Schema = nullable({
  // LeadConnector WidgetSettingsDTO
  acknowledgementDetails: obj({
    icon: str(100),
    placeholderColor: color,
    liveChatIcon: str(100),
    liveChatPlaceholderColor: color,
  }),
  agencyName: str(200),
  agencyWebsite: url,
  allowAvatarImage: bool,
  autoCountryCode: bool,
  countryCode: str(10),
  chatType: { enum: CHAT_TYPES },
  promptType: str(100),
  chatIcon: str(100),
  enableRevisitMessage: bool,
  heading: str(200),
  legalMsg: text,
  liveChatAckMsg: text,
  liveChatEndedMsg: text,
  liveChatFeedbackMsg: text,
  liveChatFeedbackNote: text,
  /** Also the web-chat channel's `welcomeMessage`. */
  liveChatIntroMsg: text,
  liveChatUserInactiveMsg: text,
  liveChatUserInactiveTime: str(100),
  liveChatVisitorInactiveMsg: text,
  liveChatVisitorInactiveTime: str(100),
  locale: str(20),
  promptAvatar: url,
  promptAvatarAltText: str(200),
  isPromptAvatarImageOptimize: bool,
  promptMsg: text,
  revisitPromptMsg: text,
  sendActionText: str(100),
  showAgencyBranding: bool,
  showConsentCheckbox: bool,
  showLiveChatWelcomeMsg: bool,
  showPrompt: bool,
  subHeading: str(200),
  successMsg: text,
  supportContact: str(200),
  thankYouMsg: text,
  theme: obj({
    name: str(100),
    value: str(100),
    colors: themeColors,
    typography: obj({ fontFamily: str(200), colors: { type: 'object', maxProperties: 20 } }),
  }),
  useEmailField: bool,
  waNumber: str(30),
  /** Also the web-chat channel's `color`. */
  widgetPrimaryColor: color,
  representativeAssignedMessage: text,
  dimensions: obj({
    position: { enum: ['left', 'right'] },
    sizes: obj({
      width: { type: 'number', minimum: 200, maximum: 2000 },
      height: { type: 'number', minimum: 200, maximum: 2000 },
    }),
  }),
  advanceSettings,
  locationCountryCode: str(10),
  widgetId: str(100),
  widgetPlacement: str(100),
  loadStrategy: str(100),

  // Charla's live-chat settings (the web-chat channel API's names)
  /** false: the widget does not load and its public API refuses visitors. */
  enabled: bool,
  /** Hosts that may embed the widget; empty or absent allows every host. */
  allowedDomains: arr(domain, 100),
  /** Refuse host-passed identities that lack a valid HMAC signature. */
  identityRequired: bool,
  /** Ask the visitor for the pre-chat fields before the first message. */
  precaptureEnabled: bool,
  requireEmailUpfront: bool,
  linkEmailBannerEnabled: bool,
  botEnabled: bool,
  typingIndicatorEnabled: bool,
  readReceiptEnabled: bool,
  operatingHours: operatingHoursSchema,
  offlineAction: offlineActionSchema,
  offlineMessage: str(500),
  prechatFields: arr(prechatFieldSchema, 30),
  departments: arr(departmentSchema, 100),
  proactiveTriggers: arr(proactiveTriggerSchema, 50),
});
